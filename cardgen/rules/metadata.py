"""The Hub's rules for front matter, one function each: value types, licences, pipeline tags,
libraries, languages, repo and dataset ids, the base-model relation, model-index, known-key typos.

Severity follows one principle: an **error** is what the Hub refuses at push time or misreads (a
licence not in its list, a language that is not an ISO 639 code, a dataset that is not a dataset id,
a malformed model-index, a value of a type it rejects); a **warning** is what it accepts but shows
as unknown, drops or shows badly (no licence, `other` without name and link, a one-item list, an
ownerless base model, an unknown task or library, a key it ignores). Anything stricter is the
publisher's policy (``policy.py``).

They run on the metadata a card computes and on the front matter of a published README alike; a
``Meta.locate`` function says where each key is written (a card's source, or the README).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cardgen import hubspec
from cardgen.diagnostics import Where
from cardgen.rules.registry import Meta, metadata_rule

if TYPE_CHECKING:
    from cardgen.card import Card

Found = Iterator[tuple[tuple[Any, ...], str]]

LICENSES_DOC = "hub-docs repositories-licenses.md"
CARDS_DOC = "hub-docs model-cards.md"


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _item_path(meta: Meta, key: str, i: int) -> tuple[Any, ...]:
    return (key, i) if isinstance(meta.data.get(key), list) else (key,)


@metadata_rule("CG209", "no licence in the metadata", "warning",
               rule=f"the Hub shows a model without `license` as licence unknown ({CARDS_DOC})")
def licence_missing(meta: Meta) -> Found:
    if "license" in meta.data or meta.license_written:
        return
    named = _licence_in_body(meta.body) if meta.body else None
    yield (), ("no `license` in the metadata; the Hub shows the licence as unknown"
               + (f" although the body names {named[0]!r} (body line {named[1]})" if named else ""))


@metadata_rule("CG208", "licence given as a list", "warning",
               rule=f"`license` is one licence id; the Hub shows only a single one ({LICENSES_DOC})")
def licence_single(meta: Meta) -> Found:
    lic = meta.data.get("license")
    if isinstance(lic, list) and all(isinstance(x, str) for x in lic):
        yield ("license",), (f"`license` must be a single licence id, not a list {lic!r}"
                             + (f"; write `license: {lic[0]}`" if len(lic) == 1 else ""))


@metadata_rule("CG201", "unknown licence id", rule=f"`license` is an id of the Hub's licence list ({LICENSES_DOC})")
def licence_known(meta: Meta) -> Found:
    if "license" not in meta.data:
        return
    lic = meta.data["license"]
    for i, one in enumerate(lic if isinstance(lic, list) else [lic]):
        if isinstance(one, str) and one not in hubspec.licenses():
            hub = hubspec.hub_license(one)
            if hub is not None:  # the same licence, spelled as SPDX or a person would: the Hub's id is the fix
                why = ("the Hub's ids are lower case" if hub == one.lower() else "the Hub does not tell SPDX's -only "
                       "from -or-later" if re.search(r"(?:-only|-or-later|\+)$", one.lower()) else "its Hub spelling")
                yield _item_path(meta, "license", i), (f"unknown licence {one!r}: the Hub's id for it is `{hub}` "
                                                       f"({why}); write `license: {hub}`")
                continue
            hint = hubspec.suggest(one, hubspec.licenses())
            yield _item_path(meta, "license", i), (f"unknown licence {one!r}{hint}; use `other` with license_name "
                                                   "and license_link for a custom licence")


@metadata_rule("CG202", "licence `other` needs license_name and license_link", "warning",
               rule=f"`license: other` is shown through `license_name` and `license_link` ({LICENSES_DOC})")
def licence_other(meta: Meta) -> Found:
    m = meta.data
    if m.get("license") != "other":
        return
    if not m.get("license_name"):
        yield ("license",), "license `other` needs `license_name` (a short slug id)"
    elif not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", str(m["license_name"])):
        yield ("license_name",), f"license_name {m['license_name']!r} must be a lower-case slug"
    if not m.get("license_link"):
        yield ("license",), "license `other` needs `license_link` (a URL or LICENSE file name)"
    elif refused_scheme(str(m["license_link"]), WEB_SCHEMES) is None and (
            p := hubspec.license_link_problem(str(m["license_link"]))):  # a refused scheme is CG222's
        yield ("license_link",), p


# -- links -------------------------------------------------------------------------------------------
#: the schemes a link of a card may have (a URL without one is relative: a file of the repository);
#: the front matter's URLs (licence link, thumbnail, widget inputs, evaluation sources) are web addresses
LINK_SCHEMES = ("http", "https", "mailto")
WEB_SCHEMES = ("http", "https")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_EDGES = "".join(map(chr, range(0x21)))  # C0 controls and space, which a browser strips from a URL's ends
_HARM = {"javascript": "a `javascript:` link runs script for whoever clicks it",
         "vbscript": "a `vbscript:` link runs script for whoever clicks it",
         "data": "a `data:` link opens a page the card wrote itself, script included",
         "file": "a `file:` link opens a file on the reader's own machine"}
EVAL_SOURCE = "the evaluation result's source URL"
LINK_RULE = ("the Hub shows URL fields as links; only http(s), mailto and relative links lead somewhere safe "
             "(a `javascript:`, `data:`, `vbscript:` or `file:` link is script or a local file)")


def url_scheme(url: str) -> str | None:
    """The scheme a browser reads in ``url`` (lower case), or None for a relative URL. As WHATWG URL
    parsing does, control characters and spaces at either end and tabs and line breaks anywhere are
    dropped first: `" Java<tab>Script:alert(1)"` is a `javascript:` URL."""
    m = _SCHEME.match(re.sub(r"[\t\n\r]", "", url.strip(_EDGES)))
    return m.group(1).lower() if m else None


def refused_scheme(url: str, allowed: tuple[str, ...] = LINK_SCHEMES) -> str | None:
    """The scheme of ``url`` when it is not one of ``allowed`` (a relative URL is always allowed)."""
    scheme = url_scheme(url)
    return scheme if scheme is not None and scheme not in allowed else None


def link_problem(label: str, url: Any, allowed: tuple[str, ...] = LINK_SCHEMES,
                 use: str = "shows it as a link") -> str | None:
    """What is wrong with a URL field's scheme, naming the field (``label``) and the scheme; None if fine."""
    scheme = refused_scheme(url, allowed) if isinstance(url, str) else None
    if scheme is None:
        return None
    harm = _HARM.get(scheme, f"`{scheme}:` is not a web address")
    others = [s for s in allowed if s not in WEB_SCHEMES]
    return (f"{label} is a `{scheme}:` link: the Hub {use}, and {harm}; write an "
            f"{' or '.join(['http(s)', *others])} URL, or a path relative to the repository")


def _front_matter_urls(data: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], str, Any, str]]:
    """(path, label, value, what the Hub does with it) of every URL the Hub's front matter holds."""
    if "license_link" in data:
        yield ("license_link",), "`license_link`", data["license_link"], "shows it as a link"
    if "thumbnail" in data:
        yield ("thumbnail",), "`thumbnail`", data["thumbnail"], "loads it as the page's image"
    widget = data.get("widget")
    for i, example in enumerate(widget if isinstance(widget, list) else []):
        if isinstance(example, dict) and "src" in example:
            yield ("widget", i, "src"), f"`widget[{i}].src`", example["src"], "loads it in the widget"
    index = data.get("model-index")
    for m, model in enumerate(index if isinstance(index, list) else []):
        results = model.get("results") if isinstance(model, dict) else None
        for r, res in enumerate(results if isinstance(results, list) else []):
            source = res.get("source") if isinstance(res, dict) else None
            if isinstance(source, dict) and "url" in source:
                path = ("model-index", m, "results", r, "source", "url")
                yield path, EVAL_SOURCE, source["url"], "shows it as a link"


@metadata_rule("CG222", "link with a scheme that is not a web address", rule=LINK_RULE)
def link_schemes(meta: Meta) -> Found:
    for path, label, url, use in _front_matter_urls(meta.data):
        if problem := link_problem(label, url, WEB_SCHEMES, use):
            yield path, problem


@metadata_rule("CG212", "the body names another licence than the metadata", "warning")
def licence_agrees_with_body(meta: Meta) -> Found:
    lic = meta.data.get("license")
    if not (isinstance(lic, str) and lic in hubspec.licenses() and meta.body):
        return
    named = _licence_in_body(meta.body)
    if named and not _same_licence(named[0], lic, hubspec.licenses()[lic] if lic != "other" else None,
                                   str(meta.data.get("license_name") or "")):
        yield ("license",), (f"the metadata says `license: {lic}` but the body names {named[0]!r} "
                             f"(body line {named[1]}); one of them is wrong")


@metadata_rule("CG203", "unknown pipeline tag", "warning",
               rule="the Hub files a model under a task of @huggingface/tasks (pipelines.ts); any other is not shown")
def pipeline_tag(meta: Meta) -> Found:
    tag = meta.data.get("pipeline_tag")
    if isinstance(tag, str) and tag not in hubspec.pipeline_tags():
        yield ("pipeline_tag",), f"unknown pipeline tag {tag!r}{hubspec.suggest(tag, hubspec.pipeline_tags())}"


@metadata_rule("CG204", "unknown library name", "warning",
               rule="the Hub shows usage for the libraries of @huggingface/tasks (model-libraries.ts); any other "
                    "gets none")
def library_name(meta: Meta) -> Found:
    lib = meta.data.get("library_name")
    if isinstance(lib, str) and lib not in hubspec.library_names():
        yield ("library_name",), f"unknown library name {lib!r}{hubspec.suggest(lib, hubspec.library_names())}"


@metadata_rule("CG205", "language is not an ISO 639 code",
               rule="`language` holds lower-case ISO 639-1, 639-2 or 639-3 codes (two or three letters) or a "
                    "special value such as `code` or `multilingual`; the Hub refuses other values")
def language(meta: Meta) -> Found:
    for i, code in enumerate(_as_list(meta.data.get("language", []))):
        where = _item_path(meta, "language", i)
        if isinstance(code, bool):
            yield where, (f"language {code!r} is a YAML boolean: unquoted `no`, `yes`, `on` and `off` are read as "
                          f"true or false; quote the code (for Norwegian, `'no'`)")
        elif isinstance(code, str) and not hubspec.language_shaped(code):
            yield where, (f"language {code!r} is not an ISO 639 code{_language_hint(code)}; use a lower-case code "
                          "of two or three letters (e.g. `en`), or `code` or `multilingual`")


@metadata_rule("CG218", "language code not in ISO 639", "warning",
               rule="the Hub links languages by their ISO 639 code; a code it does not know is shown unlinked")
def language_known(meta: Meta) -> Found:
    for i, code in enumerate(_as_list(meta.data.get("language", []))):
        if isinstance(code, str) and hubspec.language_shaped(code) and not hubspec.language_known(code):
            yield _item_path(meta, "language", i), (f"language {code!r} is not an ISO 639 code the Hub knows"
                                                    f"{_language_hint(code)}")


@metadata_rule("CG207", "invalid dataset id", rule="`datasets` holds Hub dataset ids (huggingface_hub's repo-id rule)")
def datasets(meta: Meta) -> Found:
    for i, ds in enumerate(_as_list(meta.data.get("datasets", []))):
        if isinstance(ds, str) and (p := hubspec.dataset_id_problem(ds)):
            yield ("datasets", i), p


def _model_ids(meta: Meta) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path, id) of every model id the front matter names: base_model(s) and new_version."""
    bases = meta.data.get("base_model")
    for i, b in enumerate(_as_list(bases) if bases is not None else []):
        if isinstance(b, str):
            yield _item_path(meta, "base_model", i), b
    if isinstance(meta.data.get("new_version"), str):
        yield ("new_version",), meta.data["new_version"]


@metadata_rule("CG206", "invalid repo id", rule="repo ids pass huggingface_hub's validate_repo_id")
def repo_ids(meta: Meta) -> Found:
    for path, repo in _model_ids(meta):
        if p := hubspec.repo_id_problem(repo, need_owner=False):
            yield path, f"{path[0]}: {p}"


@metadata_rule("CG216", "model id without an owner", "warning",
               rule="the Hub links `owner/name` ids; an ownerless legacy id may not resolve to the model meant")
def repo_ids_owned(meta: Meta) -> Found:
    for path, repo in _model_ids(meta):
        if "/" not in repo and not hubspec.repo_id_problem(repo, need_owner=False):
            yield path, f"{path[0]}: {repo!r} has no owner; write it as `owner/{repo}`"


@metadata_rule("CG210", "invalid base_model_relation",
               rule=f"`base_model_relation` is adapter, merge, quantized or finetune ({CARDS_DOC})")
def base_model_relation(meta: Meta) -> Found:
    rel = meta.data.get("base_model_relation")
    if rel is not None and rel not in hubspec.BASE_MODEL_RELATIONS:
        yield ("base_model_relation",), (f"base_model_relation {rel!r} must be one of "
                                         f"{', '.join(hubspec.BASE_MODEL_RELATIONS)}"
                                         f"{hubspec.suggest(rel, hubspec.BASE_MODEL_RELATIONS)}")


#: the type of each front-matter key the Hub reads (hub-docs model-cards.md and its metadata spec)
KEY_TYPES: dict[str, tuple[str, tuple[type, ...]]] = {
    "language": ("a code or a list of codes", (str, list)),
    "license": ("a licence id", (str, list)),
    "license_name": ("a string", (str,)),
    "license_link": ("a string", (str,)),
    "library_name": ("a string", (str,)),
    "pipeline_tag": ("a string", (str,)),
    "tags": ("a list of strings", (list, str)),
    "datasets": ("a list of dataset ids", (list, str)),
    "metrics": ("a list of metric ids", (list, str)),
    "base_model": ("a model id or a list of ids", (str, list)),
    "base_model_relation": ("a string", (str,)),
    "new_version": ("a model id", (str,)),
    "inference": ("true, false or a mapping of parameters", (bool, dict)),
    "widget": ("a list of examples", (list,)),
    "thumbnail": ("a URL", (str,)),
    "co2_eq_emissions": ("a number or a mapping", (int, float, dict)),
    "model-index": ("a list of models with results", (list,)),
}
_LIST_OF_STRINGS = {"language", "license", "tags", "datasets", "metrics", "base_model"}


def _kind(v: Any) -> str:
    return {list: "a list", dict: "a mapping", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


#: keys whose values the Hub's metadata validation checks (a wrong type is refused at push); for the
#: others (tags, metrics, widget, thumbnail, emissions, inference) a wrong type is only shown badly
#: or ignored, which is a warning
CHECKED_BY_THE_HUB = {"language", "license", "license_name", "license_link", "library_name", "pipeline_tag",
                      "datasets", "base_model", "base_model_relation", "new_version", "model-index"}


def _type_problems(meta: Meta, keys: set[str]) -> Found:
    for key, (want, types) in KEY_TYPES.items():
        if key not in keys or key not in meta.data or meta.data[key] is None:
            continue
        v = meta.data[key]
        if isinstance(v, bool) and bool not in types or not isinstance(v, types):
            yield (key,), f"`{key}` must be {want}, not {_kind(v)}"
        elif key in _LIST_OF_STRINGS and isinstance(v, list):
            for i, item in enumerate(v):
                if not isinstance(item, str) and not (key == "language" and isinstance(item, bool)):
                    yield (key, i), f"`{key}` entries must be strings, not {_kind(item)} ({item!r})"


@metadata_rule("CG214", "front-matter value of a type the Hub rejects",
               rule="the Hub validates the type of license, language, datasets, base_model, pipeline_tag, "
                    "library_name and model-index, and refuses the push otherwise")
def value_types(meta: Meta) -> Found:
    yield from _type_problems(meta, CHECKED_BY_THE_HUB)


@metadata_rule("CG220", "front-matter value of an unexpected type", "warning",
               rule="the Hub shows tags, metrics, widget, thumbnail, emissions and inference settings only when "
                    "they have the documented type")
def value_types_shown(meta: Meta) -> Found:
    yield from _type_problems(meta, set(KEY_TYPES) - CHECKED_BY_THE_HUB)


@metadata_rule("CG219", "empty front-matter value", "warning", rule="the Hub ignores a key whose value is empty")
def empty_values(meta: Meta) -> Found:
    for key in KEY_TYPES:
        if key in meta.data and meta.data[key] is None:
            yield (key,), f"`{key}` has no value; the Hub ignores it (remove the key or give it a value)"


@metadata_rule("CG215", "malformed model-index",
               rule="the Hub parses `model-index` (huggingface_hub's model_index_to_eval_results) and refuses "
                    "a malformed one")
def model_index(meta: Meta) -> Found:
    index = meta.data.get("model-index")
    if not isinstance(index, list):
        return
    found = False
    for path, msg in _model_index_shape(index):
        found = True
        yield ("model-index", *path), msg
    if found or not index:
        return
    from huggingface_hub.repocard_data import model_index_to_eval_results

    try:
        model_index_to_eval_results(index)
    except Exception as e:  # noqa: BLE001 - huggingface_hub's verdict, whatever it raises
        yield ("model-index",), f"huggingface_hub cannot read it: {type(e).__name__}: {e}"


def _model_index_shape(index: list[Any]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """The Hub's documented shape: [{name, results: [{task: {type}, dataset: {type, name},
    metrics: [{type, value}], source?: {url}}]}]."""
    def need(obj: Any, path: tuple[Any, ...], keys: tuple[str, ...],
             what: str) -> Iterator[tuple[tuple[Any, ...], str]]:
        if obj is None:
            yield path[:-1], f"{what} is missing: a result needs `task`, `dataset` and `metrics`"
            return
        if not isinstance(obj, dict):
            yield path, f"{what} must be a mapping, not {_kind(obj)}"
            return
        for k in keys:
            if k not in obj or obj[k] is None:
                yield path, f"{what} needs `{k}`"
            elif isinstance(obj[k], (dict, list)):
                yield (*path, k), f"{what}: `{k}` must be a single value, not {_kind(obj[k])}"

    for m, model in enumerate(index):
        if not isinstance(model, dict):
            yield (m,), f"each model-index entry must be a mapping with `name` and `results`, not {_kind(model)}"
            continue
        results = model.get("results")
        if not isinstance(results, list):
            yield (m,), "a model-index entry needs `results`, a list"
            continue
        for r, res in enumerate(results):
            at = (m, "results", r)
            if not isinstance(res, dict):
                yield at, f"each result must be a mapping, not {_kind(res)}"
                continue
            yield from need(res.get("task"), (*at, "task"), ("type",), "`task`")
            yield from need(res.get("dataset"), (*at, "dataset"), ("type", "name"), "`dataset`")
            metrics = res.get("metrics")
            if not isinstance(metrics, list) or not metrics:
                yield at, "a result needs `metrics`, a non-empty list"
            else:
                for k, metric in enumerate(metrics):
                    yield from need(metric, (*at, "metrics", k), ("type", "value"), "each metric")
            if "source" in res:
                yield from need(res["source"], (*at, "source"), ("url",), "`source`")


@metadata_rule("CG211", "typo of a known metadata key", "warning",
               rule="the Hub ignores metadata keys it does not know")
def key_typos(meta: Meta) -> Found:
    for key in meta.data:
        if key not in hubspec.KNOWN_METADATA_KEYS:
            hit = difflib.get_close_matches(str(key), hubspec.KNOWN_METADATA_KEYS, n=1, cutoff=0.75)
            if hit:
                yield (key,), f"metadata key {key!r} looks like a typo of {hit[0]!r}; the Hub ignores it"


# -- helpers ---------------------------------------------------------------------------------------
def _language_hint(word: str) -> str:
    by_name = {name.lower(): code for code, name in hubspec.languages().items()}
    code = by_name.get(word.lower())
    return f" (did you mean `{code}` for {word.title()}?)" if code else hubspec.suggest(word, hubspec.languages())


_LICENCE_LINE = re.compile(r"licen[cs]e", re.I)
_LINK_TEXT = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def _licence_in_body(body: str) -> tuple[str, int] | None:
    """The licence a README's body names, if a line about the licence links to one: (text, line)."""
    for n, line in enumerate(body.splitlines(), 1):
        if _LICENCE_LINE.search(line):
            for text in _LINK_TEXT.findall(line):
                if _LICENCE_LINE.search(text):
                    return text, n
    return None


_GENERIC_WORDS = {"license", "licence", "licensed", "agreement", "community", "the", "version", "v", "of", "and", "0"}


def _words(s: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", s.lower())) - _GENERIC_WORDS


def _same_licence(named: str, *names: str | None) -> bool:
    """Whether a licence named in prose is one of ``names`` (an id, its title, a license_name slug):
    one's significant words contain the other's."""
    said = _words(named)
    return any(w and (w <= said or said <= w) for w in (_words(n) for n in names if n))


# where a front-matter key of a card is written in its sources
SOURCE_FIELD = {
    "language": "language", "license": "license", "license_name": "license", "license_link": "license",
    "library_name": "library_name", "pipeline_tag": "pipeline_tag", "tags": "tags", "datasets": "datasets",
    "base_model": "base_model", "base_model_relation": "base_model_relation", "new_version": "new_version",
    "inference": "inference", "model-index": "evaluation", "model_type": "model_type",
    "prompt_template": "prompt", "model_creator": "creator", "quantized_by": "creator", "widget": "widget",
    "co2_eq_emissions": "co2_eq_emissions", "model_name": "extends",
}


def card_meta(card: Card) -> Meta:
    """A card's computed front matter, located in its sources."""

    def locate(path: tuple[Any, ...]) -> Where:
        if not path:
            return card.where()
        key, rest = path[0], path[1:]
        if key in ("license", "license_name", "license_link") and card.license:
            sub = {"license": "id", "license_name": "name", "license_link": "link"}[key]
            r = card.license
            if isinstance(card.model.license, str) and r.path == ("license",):
                return r.pos()
            return r.pos(sub)
        if key == "datasets" and rest:
            meta_ds = [r for r in card.datasets if r.value.id and r.value.metadata]
            if rest[0] < len(meta_ds):
                r = meta_ds[rest[0]]
                return r.pos("id") if r.path[0] != "datasets" or not isinstance(r.value, str) else r.pos()
        if key == "model-index" and rest[-2:] == ("source", "url"):  # built from `evaluation[i].source_url`
            url = card.front_matter["model-index"][rest[0]]["results"][rest[2]]["source"]["url"]
            found = next((i for i, e in enumerate(card.model.evaluation or []) if e.source_url == url), None)
            if found is not None:
                return card.loc("evaluation", found, "source_url")
        if key == "base_model" and card.model.base_model is None and card.model.extends:
            return card.loc("extends")
        if key in SOURCE_FIELD and (key not in (card.model.metadata or {}) or key in card.produced):
            return card.loc(SOURCE_FIELD[key], *rest)
        return card.key_loc("metadata", key)

    # a licence the schema rejected is reported there; do not also call it missing
    written = any("license" in s.data for s in [card.src, *card.origin.values()])
    return Meta(card.front_matter, locate, license_written=written)
