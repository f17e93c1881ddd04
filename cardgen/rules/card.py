"""Rules on what only card sources have: the card's own repo id, its licence against its base's,
prompt placeholders, citation keys, free-section anchors, the schemes of the links its entries write."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from cardgen import hubspec
from cardgen.diagnostics import Where
from cardgen.kinds.prompt import PLACEHOLDER
from cardgen.rules.metadata import EVAL_SOURCE, LINK_RULE, LINK_SCHEMES, WEB_SCHEMES, link_problem
from cardgen.rules.registry import card_rule, project_rule
from cardgen.sections import placed_slots

if TYPE_CHECKING:
    from cardgen.card import Card
    from cardgen.resolve import Registry
    from cardgen.rules.registry import RiskFacts

Found = Iterator[tuple[Where, str]]


@card_rule("CG206", "invalid repo id", rule="repo ids pass huggingface_hub's validate_repo_id")
def own_repo_id(card: Card) -> Found:
    if p := hubspec.repo_id_problem(card.repo_id):
        yield card.where(), p


@card_rule("CG213", "licence differs from the base card's", "warning")
def licence_of_base(card: Card) -> Found:
    from cardgen.rules.derived import quantized

    if card.model.extends and card.base and card.license and card.base.license and not quantized(card):  # CG506
        mine, theirs = card.license.value, card.base.license.value
        if (mine.id, mine.name) != (theirs.id, theirs.name):
            yield card.loc("license"), (f"licence {mine.id!r} differs from the base card's "
                                        f"{theirs.name or theirs.id!r}; a derivative usually carries its base "
                                        "model's licence")


_BAD_REF = re.compile(r"(^[/.])|([/.]$)|(\.\.)|(//)|(@\{)|([\x00-\x20\x7f~^:?*\[\\])|(\.lock$)|(/\.)|(\.lock/)")


@card_rule("CG309", "invalid branch name", rule="the Hub's branches are git refs: `git check-ref-format` rules")
def branch_names(card: Card) -> Found:
    from cardgen.schema import branches

    for i, branch in enumerate(branches(card.model.quantization)):
        if branch == "@" or _BAD_REF.search(branch):
            yield card.loc("quantization", "variants", i, "branch"), (
                f"branch {branch!r} is not a valid git branch name (no `..`, spaces, control characters, "
                "`~^:?*[\\`, `@{`, and no leading or trailing `/` or `.`)")


@card_rule("CG401", "placeholder used but not defined")
def placeholders_defined(card: Card) -> Found:
    p = card.model.prompt
    if p is None or p.template is None:
        return
    for name in dict.fromkeys(PLACEHOLDER.findall(p.template)):
        if name not in p.placeholders:
            yield card.loc("prompt", "template"), (f"template uses {{{name}}} but `placeholders` does not define "
                                                   f"it{hubspec.suggest(name, p.placeholders)}")
    for name in p.example:
        if name not in p.placeholders:
            yield card.key_loc("prompt", "example", name), (f"example fills {{{name}}}, which is not a defined "
                                                            "placeholder")


@card_rule("CG402", "placeholder defined but not used", "warning")
def placeholders_used(card: Card) -> Found:
    p = card.model.prompt
    if p is None or p.template is None:
        return
    used = PLACEHOLDER.findall(p.template)
    for name in p.placeholders:
        if name not in used:
            yield card.key_loc("prompt", "placeholders", name), (f"placeholder {name!r} is defined but the "
                                                                 "template never uses it")
    if p.system_prompt is not None and "system_message" not in used:
        yield card.loc("prompt", "system_prompt"), "system_prompt is given but the template has no {system_message}"


@card_rule("CG403", "stop token id out of range")
def stop_ids(card: Card) -> Found:
    p = card.model.prompt
    for i, t in enumerate(p.stop_token_ids if p else []):
        if t < 0:
            yield card.loc("prompt", "stop_token_ids", i), f"stop token id {t} is negative"


@card_rule("CG306", "duplicate citation key")
def citation_keys(card: Card) -> Found:
    seen: dict[str, object] = {}
    for r in card.citations:
        key = r.value.key
        if key in seen and seen[key] is not r.value:
            yield r.pos("key"), f"citation key {key!r} is used twice in this card"
        seen[key] = r.value


@project_rule("CG306", "duplicate citation key")
def shared_citation_keys(registry: Registry, cards: list[RiskFacts]) -> Found:
    seen: dict[str, str] = {}
    for ident, ref in registry.entries.get("citations", {}).items():
        key = ref.value.key
        if key in seen:
            yield ref.pos("key"), f"citation key {key!r} is also used by shared citation {seen[key]!r}"
        seen.setdefault(key, ident)


@card_rule("CG308", "free section anchored to a section the card's template does not place")
def section_anchors(card: Card) -> Found:
    own = {r.value.id for r in card.sections if r.value.id}
    anchors = set(card.slots) | own
    for r in card.sections:
        s = r.value
        for attr in ("after", "before"):
            anchor = getattr(s, attr)
            if anchor is not None and anchor not in anchors:
                _, template = placed_slots(card.templates)
                yield r.pos(attr), (f"{attr}: {anchor!r} is not placed by {template}"
                                    f"{hubspec.suggest(anchor, anchors)}; anchors there: "
                                    f"{', '.join([*card.slots, *sorted(own)])}")


@card_rule("CG103", "missing required key")
def section_content(card: Card) -> Found:
    for r in card.sections:
        s = r.value
        if s.body is None and s.file is None and s.heading is None:
            yield r.pos(), "a section needs a heading, a body or a file"


#: the URL fields of the shared kinds of entry: (field, how a diagnostic names it, the schemes allowed)
_URL_FIELDS: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "Org": (("url", "the organisation's `url`", LINK_SCHEMES),),
    "License": (("link", "`license_link`", WEB_SCHEMES), ("url", "the licence's `url`", LINK_SCHEMES)),
    "Dataset": (("url", "the dataset's `url`", LINK_SCHEMES),),
    "Citation": (("url", "the citation's `url`", LINK_SCHEMES),),
}


def _entry_links(value: Any, pos: Callable[..., Where]) -> Found:
    """The URL fields of an entry (an organisation, licence, dataset, citation, or a training's inline
    datasets) whose scheme is refused, where ``pos(field...)`` places them. The licence's `link` is the
    front matter's `license_link`: the same message as the metadata rule's, so one diagnostic."""
    from cardgen.entries import Dataset, Training

    for field, label, allowed in _URL_FIELDS.get(type(value).__name__, ()):
        if problem := link_problem(label, getattr(value, field), allowed):
            yield pos(field), problem
    if isinstance(value, Training) and value.datasets:
        for i, item in enumerate(value.datasets.items):
            if isinstance(item, Dataset):
                yield from _entry_links(item, lambda *rest, i=i: pos("datasets", "items", i, *rest))


@card_rule("CG222", "link with a scheme that is not a web address", rule=LINK_RULE)
def link_schemes(card: Card) -> Found:
    """Every link a card's entries write, wherever the entry is written (a shared entry is also checked
    by the project rule below, with the same message: one diagnostic)."""
    refs = [card.creator, card.license, card.training, card.risk_citation, *card.datasets, *card.citations,
            *card.cite_as]
    for ref in refs:
        if ref is not None:
            yield from _entry_links(ref.value, ref.pos)
    for i, v in enumerate(getattr(card.model.quantization, "variants", None) or []):
        yield from _entry_links(v.dataset, lambda *rest, i=i: card.loc("quantization", "variants", i, "dataset", *rest))
    for i, e in enumerate(card.model.evaluation or []):  # the model-index keeps one source of results grouped
        if problem := link_problem(EVAL_SOURCE, e.source_url, WEB_SCHEMES):
            yield card.loc("evaluation", i, "source_url"), problem


@project_rule("CG222", "link with a scheme that is not a web address", rule=LINK_RULE)
def shared_link_schemes(registry: Registry, cards: list[RiskFacts]) -> Found:
    for table in registry.entries.values():
        for ref in table.values():
            yield from _entry_links(ref.value, ref.pos)
