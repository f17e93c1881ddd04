"""The Hub's rules for front matter, one function each: licences, pipeline tags, libraries,
languages, repo and dataset ids, the base-model relation, known-key typos.

They run on the metadata a card computes and on the front matter of a published README alike; a
``Meta.locate`` function says where each key is written (a card's source, or the README).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .. import hubspec
from ..diagnostics import Where
from . import Meta, metadata_rule

if TYPE_CHECKING:
    from ..card import Card

Found = Iterator[tuple[tuple[Any, ...], str]]

LICENSES_DOC = "hub-docs repositories-licenses.md"
CARDS_DOC = "hub-docs model-cards.md"


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _item_path(meta: Meta, key: str, i: int) -> tuple[Any, ...]:
    return (key, i) if isinstance(meta.data.get(key), list) else (key,)


@metadata_rule("CG209", "no licence in the metadata",
               rule=f"the Hub shows a model without `license` as licence unknown ({CARDS_DOC})")
def licence_missing(meta: Meta) -> Found:
    if "license" in meta.data or meta.license_written:
        return
    named = _licence_in_body(meta.body) if meta.body else None
    yield (), ("no `license` in the metadata; the Hub shows the licence as unknown"
               + (f" although the body names {named[0]!r} (body line {named[1]})" if named else ""))


@metadata_rule("CG208", "licence must be a single id", rule=f"`license` is one licence id ({LICENSES_DOC})")
def licence_single(meta: Meta) -> Found:
    lic = meta.data.get("license")
    if isinstance(lic, list):
        yield ("license",), (f"`license` must be a single licence id, not a list {lic!r}"
                             + (f"; write `license: {lic[0]}`" if len(lic) == 1 else ""))


@metadata_rule("CG201", "unknown licence id", rule=f"`license` is an id of the Hub's licence list ({LICENSES_DOC})")
def licence_known(meta: Meta) -> Found:
    if "license" not in meta.data:
        return
    lic = meta.data["license"]
    if isinstance(lic, list):
        return
    if not isinstance(lic, str) or lic not in hubspec.licenses():
        yield ("license",), (f"unknown licence {lic!r}{hubspec.suggest(lic, hubspec.licenses())}; "
                             "use `other` with license_name and license_link for a custom licence")


@metadata_rule("CG202", "licence `other` needs license_name and license_link",
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
    elif p := hubspec.license_link_problem(str(m["license_link"])):
        yield ("license_link",), p


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


@metadata_rule("CG203", "unknown pipeline tag", rule="`pipeline_tag` is a task of @huggingface/tasks (pipelines.ts)")
def pipeline_tag(meta: Meta) -> Found:
    tag = meta.data.get("pipeline_tag")
    if tag is None:
        return
    if not isinstance(tag, str):
        yield ("pipeline_tag",), f"`pipeline_tag` must be a string, not {tag!r}"
    elif tag not in hubspec.pipeline_tags():
        yield ("pipeline_tag",), f"unknown pipeline tag {tag!r}{hubspec.suggest(tag, hubspec.pipeline_tags())}"


@metadata_rule("CG204", "unknown library name",
               rule="`library_name` is a library of @huggingface/tasks (model-libraries.ts)")
def library_name(meta: Meta) -> Found:
    lib = meta.data.get("library_name")
    if lib is None:
        return
    if not isinstance(lib, str):
        yield ("library_name",), f"`library_name` must be a string, not {lib!r}"
    elif lib not in hubspec.library_names():
        yield ("library_name",), f"unknown library name {lib!r}{hubspec.suggest(lib, hubspec.library_names())}"


@metadata_rule("CG205", "unknown language code", rule=f"`language` holds ISO 639-1 or 639-3 codes ({CARDS_DOC})")
def language(meta: Meta) -> Found:
    for i, code in enumerate(_as_list(meta.data.get("language", []))):
        if not isinstance(code, str) or code not in hubspec.languages():
            hint = _language_hint(code) if isinstance(code, str) else ""
            yield _item_path(meta, "language", i), (f"unknown language code {code!r}{hint}; "
                                                    "use ISO 639-1 (e.g. `en`) or 639-3")


@metadata_rule("CG207", "invalid dataset id", rule="`datasets` holds Hub dataset ids (huggingface_hub's repo-id rule)")
def datasets(meta: Meta) -> Found:
    for i, ds in enumerate(_as_list(meta.data.get("datasets", []))):
        if p := hubspec.dataset_id_problem(ds):
            yield ("datasets", i), p


@metadata_rule("CG206", "invalid repo id", rule="repo ids pass huggingface_hub's validate_repo_id")
def repo_ids(meta: Meta) -> Found:
    bases = meta.data.get("base_model")
    for i, b in enumerate(_as_list(bases) if bases is not None else []):
        if p := hubspec.repo_id_problem(b):
            yield _item_path(meta, "base_model", i), f"base_model: {p}"
    if meta.data.get("new_version") is not None and (p := hubspec.repo_id_problem(meta.data["new_version"])):
        yield ("new_version",), f"new_version: {p}"


@metadata_rule("CG210", "invalid base_model_relation",
               rule=f"`base_model_relation` is adapter, merge, quantized or finetune ({CARDS_DOC})")
def base_model_relation(meta: Meta) -> Found:
    rel = meta.data.get("base_model_relation")
    if rel is not None and rel not in hubspec.BASE_MODEL_RELATIONS:
        yield ("base_model_relation",), (f"base_model_relation {rel!r} must be one of "
                                         f"{', '.join(hubspec.BASE_MODEL_RELATIONS)}"
                                         f"{hubspec.suggest(rel, hubspec.BASE_MODEL_RELATIONS)}")


@metadata_rule("CG101", "wrong type or invalid value")
def inference_flag(meta: Meta) -> Found:
    if meta.data.get("inference") is not None and not isinstance(meta.data["inference"], bool):
        yield ("inference",), "`inference` must be true or false"


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
    "prompt_template": "prompt", "model_creator": "creator", "quantized_by": "creator",
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
        if key == "base_model" and card.model.base_model is None and card.model.extends:
            return card.loc("extends")
        if key in SOURCE_FIELD:
            return card.loc(SOURCE_FIELD[key], *rest)
        return card.key_loc("metadata", key)

    # a licence the schema rejected is reported there; do not also call it missing
    written = any("license" in s.data for s in [card.src, *card.origin.values()])
    return Meta(card.front_matter, locate, license_written=written)
