"""Rules on what only card sources have: the card's own repo id, its licence against its base's,
prompt placeholders, citation keys, free-section anchors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from cardgen import hubspec
from cardgen.diagnostics import Where
from cardgen.kinds.prompt import PLACEHOLDER
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
    if card.model.extends and card.base and card.license and card.base.license:
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
