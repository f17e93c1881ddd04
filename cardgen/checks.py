"""Checks beyond the schema, all offline.

* ``check_metadata``: the Hub's rules for front matter (licences, pipeline tags, libraries,
  languages, repo and dataset ids, `other` licences, known-key typos). It runs on the metadata a
  card computes and on the front matter of an existing README alike; a ``locate`` function says
  where each key is written.
* ``check_card``: what only sources have: prompt placeholders, citation keys, section anchors.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Callable

from . import hubspec
from .diagnostics import Diagnostic, error, warning
from .resolve import Card

Locate = Callable[[tuple], tuple[str, tuple[int, int]]]
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: section ids the default templates place; free sections anchor to these or to each other
SLOTS = ("header", "title", "description", "usage", "prompt_format", "model_details", "variants",
         "training", "evaluation", "risks", "ethics", "citations", "footer", "base_card")


def _as_list(v: Any) -> list:
    return v if isinstance(v, list) else [v]


def check_metadata(meta: dict, locate: Locate, body: str | None = None, need_license: bool = True) -> list[Diagnostic]:
    out: list[Diagnostic] = []

    def err(path, code, msg):
        out.append(error(*locate(path), code, msg))

    def warn(path, code, msg):
        out.append(warning(*locate(path), code, msg))

    lic = meta.get("license")
    if "license" not in meta:
        if not need_license:
            pass
        else:
            named = _licence_in_body(body) if body else None
            err((), "CG209", "no `license` in the metadata; the Hub shows the licence as unknown"
                + (f" although the body names {named[0]!r} (body line {named[1]})" if named else ""))
    elif isinstance(lic, list):
        err(("license",), "CG208", f"`license` must be a single licence id, not a list {lic!r}"
            + (f"; write `license: {lic[0]}`" if len(lic) == 1 else ""))
    elif not isinstance(lic, str) or lic not in hubspec.licenses():
        err(("license",), "CG201", f"unknown licence {lic!r}{hubspec.suggest(lic, hubspec.licenses())}; "
            "use `other` with license_name and license_link for a custom licence")
    elif lic == "other":
        if not meta.get("license_name"):
            err(("license",), "CG202", "license `other` needs `license_name` (a short slug id)")
        elif not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", str(meta["license_name"])):
            err(("license_name",), "CG202", f"license_name {meta['license_name']!r} must be a lower-case slug")
        if not meta.get("license_link"):
            err(("license",), "CG202", "license `other` needs `license_link` (a URL or LICENSE file name)")
        elif p := hubspec.license_link_problem(str(meta["license_link"])):
            err(("license_link",), "CG202", p)
    if isinstance(lic, str) and lic in hubspec.licenses() and body:
        named = _licence_in_body(body)
        if named and not _same_licence(named[0], lic, hubspec.licenses()[lic] if lic != "other" else None,
                                       str(meta.get("license_name") or "")):
            warn(("license",), "CG212", f"the metadata says `license: {lic}` but the body names {named[0]!r} "
                 f"(body line {named[1]}); one of them is wrong")
    tag = meta.get("pipeline_tag")
    if tag is not None and tag not in hubspec.pipeline_tags():
        err(("pipeline_tag",), "CG203", f"unknown pipeline tag {tag!r}{hubspec.suggest(tag, hubspec.pipeline_tags())}")
    lib = meta.get("library_name")
    if lib is not None and lib not in hubspec.library_names():
        err(("library_name",), "CG204", f"unknown library name {lib!r}{hubspec.suggest(lib, hubspec.library_names())}")
    for i, code in enumerate(_as_list(meta.get("language", []))):
        if not isinstance(code, str) or code not in hubspec.languages():
            hint = _language_hint(code) if isinstance(code, str) else ""
            err(("language", i) if isinstance(meta.get("language"), list) else ("language",), "CG205",
                f"unknown language code {code!r}{hint}; use ISO 639-1 (e.g. `en`) or 639-3")
    for i, ds in enumerate(_as_list(meta.get("datasets", []))):
        if p := hubspec.dataset_id_problem(ds):
            err(("datasets", i), "CG207", p)
    bases = meta.get("base_model")
    for i, b in enumerate(_as_list(bases) if bases is not None else []):
        if p := hubspec.repo_id_problem(b):
            err(("base_model", i) if isinstance(bases, list) else ("base_model",), "CG206", f"base_model: {p}")
    for key in ("new_version",):
        if meta.get(key) is not None and (p := hubspec.repo_id_problem(meta[key])):
            err((key,), "CG206", f"{key}: {p}")
    rel = meta.get("base_model_relation")
    if rel is not None and rel not in hubspec.BASE_MODEL_RELATIONS:
        err(("base_model_relation",), "CG210", f"base_model_relation {rel!r} must be one of "
            f"{', '.join(hubspec.BASE_MODEL_RELATIONS)}{hubspec.suggest(rel, hubspec.BASE_MODEL_RELATIONS)}")
    if meta.get("inference") is not None and not isinstance(meta["inference"], bool):
        err(("inference",), "CG101", "`inference` must be true or false")
    for key in meta:
        if key not in hubspec.KNOWN_METADATA_KEYS:
            hit = difflib.get_close_matches(str(key), hubspec.KNOWN_METADATA_KEYS, n=1, cutoff=0.75)
            if hit:
                warn((key,), "CG211", f"metadata key {key!r} looks like a typo of {hit[0]!r}; the Hub ignores it")
    return out


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


def card_locator(card: Card) -> Locate:
    """Where a front-matter key of a card is written in its sources."""
    from .frontmatter import SOURCE_FIELD

    def locate(path: tuple):
        if not path:
            return card.where()
        key, rest = path[0], path[1:]
        if key in ("license", "license_name", "license_link") and card.license:
            sub = {"license": "id", "license_name": "name", "license_link": "link"}[key]
            r = card.license
            if isinstance(card.model.license, str) and r.path == ("license",):
                return r.src.pos(r.path)
            return r.src.pos((*r.path, sub))
        if key == "datasets" and rest:
            meta_ds = [r for r in card.datasets if r.value.id and r.value.metadata]
            if rest[0] < len(meta_ds):
                r = meta_ds[rest[0]]
                return r.src.pos((*r.path, "id")) if r.path[0] != "datasets" or not isinstance(
                    r.value, str) else r.src.pos(r.path)
        if key == "base_model" and card.model.base_model is None and card.model.extends:
            return card.loc("extends")
        if key in SOURCE_FIELD:
            return card.loc(SOURCE_FIELD[key], *rest)
        return card.key_loc("metadata", key)

    return locate


def check_card(card: Card) -> list[Diagnostic]:
    from .frontmatter import compute

    # a licence the schema rejected is reported there; do not also call it missing
    written = any("license" in s.data for s in [card.src, *card.origin.values()])
    out = check_metadata(compute(card), card_locator(card), need_license=not written)
    m = card.model
    if card.member is None and m.repo_id and (p := hubspec.repo_id_problem(m.repo_id)):
        out.append(error(*card.loc("repo_id"), "CG206", p))
    if card.member is not None and (p := hubspec.repo_id_problem(card.repo_id)):
        i = [x.repo_id for x in card.members].index(card.repo_id)
        out.append(error(*card.src.pos(("suite", i, "repo_id")), "CG206", p))
    if m.extends and card.base and card.license and card.base.license:
        mine, theirs = card.license.value, card.base.license.value
        if (mine.id, mine.name) != (theirs.id, theirs.name):
            out.append(warning(*card.loc("license"), "CG201",
                               f"licence {mine.id!r} differs from the base card's {theirs.name or theirs.id!r}; "
                               "a derivative usually carries its base model's licence"))
    out += _check_prompt(card)
    out += _check_citations(card)
    out += _check_sections(card)
    return out


def _check_prompt(card: Card) -> list[Diagnostic]:
    p = card.model.prompt
    if p is None:
        return []
    out = []
    used = PLACEHOLDER.findall(p.template)
    for name in dict.fromkeys(used):
        if name not in p.placeholders:
            out.append(error(*card.loc("prompt", "template"), "CG401",
                             f"template uses {{{name}}} but `placeholders` does not define it"
                             f"{hubspec.suggest(name, p.placeholders)}"))
    for name in p.placeholders:
        if name not in used:
            out.append(warning(*card.key_loc("prompt", "placeholders", name), "CG402",
                               f"placeholder {name!r} is defined but the template never uses it"))
    for name in p.example:
        if name not in p.placeholders:
            out.append(error(*card.key_loc("prompt", "example", name), "CG401",
                             f"example fills {{{name}}}, which is not a defined placeholder"))
    if p.system_prompt is not None and "system_message" not in used:
        out.append(warning(*card.loc("prompt", "system_prompt"), "CG402",
                           "system_prompt is given but the template has no {system_message}"))
    for i, t in enumerate(p.stop_token_ids):
        if t < 0:
            out.append(error(*card.loc("prompt", "stop_token_ids", i), "CG403", f"stop token id {t} is negative"))
    return out


def _check_citations(card: Card) -> list[Diagnostic]:
    out, seen = [], {}
    for r in card.citations:
        key = r.value.key
        if key in seen and seen[key] is not r.value:
            out.append(error(*r.src.pos((*r.path, "key") if r.path[0] != "citations" or not isinstance(
                card.model.citations[r.path[1]], str) else r.path), "CG306",
                f"citation key {key!r} is used twice in this card"))
        seen[key] = r.value
    return out


def _check_sections(card: Card) -> list[Diagnostic]:
    out = []
    ids = set(SLOTS) | {r.value.id for r in card.sections if r.value.id}
    for r in card.sections:
        s = r.value
        for attr in ("after", "before"):
            anchor = getattr(s, attr)
            if anchor is not None and anchor not in ids:
                out.append(error(*r.src.pos((*r.path, attr)), "CG308",
                                 f"{attr}: {anchor!r} is not a section{hubspec.suggest(anchor, ids)}"))
        if s.body is None and s.file is None and s.heading is None:
            out.append(error(*r.src.pos(r.path), "CG103", "a section needs a heading, a body or a file"))
    return out
