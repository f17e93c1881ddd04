"""Rules on the risk × use × mitigation matrix and on the shared mitigation catalogue."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cardgen.diagnostics import Where
from cardgen.hubspec import suggest
from cardgen.rules.registry import card_rule, project_rule

if TYPE_CHECKING:
    from cardgen.card import Card, Ref
    from cardgen.resolve import Registry
    from cardgen.risk.schema import RiskAssessment
    from cardgen.rules.registry import RiskFacts

Found = Iterator[tuple[Where, str]]

RISK_ID = re.compile(r"^R[1-9][0-9]*$")
USE_ID = re.compile(r"^U[1-9][0-9]*$")
MITIGATION_ID = re.compile(r"^M[1-9][0-9]*$")
SIMILAR = 0.8  # difflib ratio at which two mitigation sentences are near-duplicates


def _ra(card: Card) -> RiskAssessment | None:
    return card.model.risk_assessment


def _at(card: Card, *path: Any) -> Where:
    return card.loc("risk_assessment", *path)


def _key_at(card: Card, *path: Any) -> Where:
    return card.key_loc("risk_assessment", *path)


@card_rule("CG601", "malformed risk, use or mitigation id")
def ids_well_formed(card: Card) -> Found:
    ra = _ra(card)
    if ra is None:
        return
    for kind, ids, pat in (("uses", [u.id for u in ra.uses], USE_ID), ("risks", [r.id for r in ra.risks], RISK_ID)):
        for i, ident in enumerate(ids):
            if not pat.match(ident):
                yield _at(card, kind, i, "id"), (f"{kind[:-1]} id {ident!r} must look like {pat.pattern[1:3]}1, "
                                                 f"{pat.pattern[1:3]}2, …")
    for k in ra.mitigations:
        if not MITIGATION_ID.match(k):
            yield _key_at(card, "mitigations", k), f"mitigation id {k!r} must look like M1, M2, …"


@card_rule("CG305", "duplicate id")
def ids_unique(card: Card) -> Found:
    ra = _ra(card)
    if ra is None:
        return
    for kind, ids in (("uses", [u.id for u in ra.uses]), ("risks", [r.id for r in ra.risks])):
        seen: dict[str, int] = {}
        for i, ident in enumerate(ids):
            if ident in seen:
                yield _at(card, kind, i, "id"), f"{kind[:-1]} id {ident!r} is already used by entry {seen[ident] + 1}"
            seen.setdefault(ident, i)
    for k in ra.mitigations:
        shared = card.mitigations.get(k)
        if shared and shared.path[0] == "mitigations":
            yield _key_at(card, "mitigations", k), (f"mitigation id {k!r} is already in the shared catalogue "
                                                    f"({shared.src.file})")


@card_rule("CG602", "risk without mitigation")
def risks_mitigated(card: Card) -> Found:
    ra = _ra(card)
    for i, risk in enumerate(ra.risks if ra else []):
        if not risk.mitigations:
            yield _at(card, "risks", i, "mitigations"), f"risk {risk.id} has no mitigation"


@card_rule("CG301", "dangling reference")
def mitigations_exist(card: Card) -> Found:
    ra = _ra(card)
    for i, risk in enumerate(ra.risks if ra else []):
        for j, mid in enumerate(risk.mitigations):
            if mid not in card.mitigations:
                yield _at(card, "risks", i, "mitigations", j), (f"mitigation {mid!r} is not in the catalogue"
                                                                f"{suggest(mid, card.mitigations)}")


@card_rule("CG603", "matrix cell names an undefined risk or use")
def matrix_names(card: Card) -> Found:
    ra = _ra(card)
    if ra is None:
        return
    risk_ids, use_ids = [r.id for r in ra.risks], [u.id for u in ra.uses]
    for rid, row in ra.matrix.items():
        if rid not in risk_ids:
            yield _key_at(card, "matrix", rid), f"matrix row {rid!r} is not a listed risk{suggest(rid, risk_ids)}"
            continue
        for uid in row:
            if uid not in use_ids:
                yield _key_at(card, "matrix", rid, uid), (f"matrix cell {rid}×{uid}: {uid!r} is not a listed use"
                                                          f"{suggest(uid, use_ids)}")


@card_rule("CG604", "matrix is missing cells")
def matrix_complete(card: Card) -> Found:
    ra = _ra(card)
    if ra is None:
        return
    use_ids = [u.id for u in ra.uses]
    for risk in ra.risks:
        row = ra.matrix.get(risk.id)
        missing = [u for u in use_ids if row is None or u not in row]
        if missing:
            where = _key_at(card, "matrix", risk.id) if row is not None else _key_at(card, "matrix")
            yield where, (f"matrix says nothing for {risk.id} × {', '.join(missing)}; state every cell "
                          "(`unknown` where the sources say it is not known)")


@card_rule("CG607", "matrix cell not on the assessment's scale")
def cells_on_scale(card: Card) -> Found:
    from cardgen.risk.matrix import APPLIES, DOES_NOT_APPLY, NOT_APPLICABLE, UNKNOWN, judge, levels

    ra = _ra(card)
    if ra is None:
        return
    graded = ra.scale.kind != "presence"
    allowed = {lv.id for lv in levels(ra)} | {NOT_APPLICABLE, UNKNOWN} if graded else {APPLIES, DOES_NOT_APPLY, UNKNOWN}
    if ra.scale.kind == "custom" and not ra.scale.levels:
        yield _at(card, "scale"), "a `custom` scale needs its `levels` (id, label, symbol, optional DPV level)"
    for rid, row in ra.matrix.items():
        for uid, value in row.items():
            j = judge(value)
            # placed only when found: a card's positions are built from its file again when first asked for
            if j is None:
                yield _at(card, "matrix", rid, uid), (f"cell {rid}×{uid} says neither whether the risk applies nor "
                                                      "its level")
            elif j.state not in allowed:
                what = (f"levels: {', '.join(sorted(allowed))}" if graded else
                        "a list of who is at risk (applies), `false` (does not apply) or `unknown`")
                yield _at(card, "matrix", rid, uid), (f"cell {rid}×{uid}: {j.state!r} is not on the {ra.scale.kind} "
                                                      f"scale; use {what}")
            elif j.applies() and not j.subjects and not graded:
                yield _at(card, "matrix", rid, uid), (f"cell {rid}×{uid} applies but names no one at risk: give "
                                                      "`subjects` (ai_user, ai_subject, institution)")


_ACTIVE_VERB = re.compile(r"[A-Z][a-z]+(?<!ss)s$")  # "Reflects", "Undermines": an active verb, present tense
_NOT_BASE_FORM = {"need", "needs", "should", "must", "may", "can", "it", "the", "a", "an", "this", "these", "there"}


@card_rule("CG608", "risk statement not in RiskRAG's form", "warning",
           rule="RiskRAG: a risk starts with an active present-tense verb, one sentence, at most 20 words")
def risk_wording(card: Card) -> Found:
    ra = _ra(card)
    for i, risk in enumerate(ra.risks if ra else []):
        words = risk.statement.split()
        first = words[0].strip(",.;:'\"") if words else ""
        problems = []
        if not _ACTIVE_VERB.match(first):
            problems.append(f"start with an active verb in the present tense (not {first!r})")
        if len(words) > 20:
            problems.append(f"be at most 20 words (it has {len(words)})")
        if re.search(r"[.!?]\s+\S", risk.statement.strip()):
            problems.append("be one sentence")
        if problems:
            yield _at(card, "risks", i, "statement"), f"risk {risk.id} should {' and '.join(problems)}"


@card_rule("CG609", "mitigation not an instruction", "warning",
           rule="RiskRAG: a mitigation starts with a verb in its base form (\"Perform…\")")
def mitigation_wording(card: Card) -> Found:
    ra = _ra(card)
    if ra is None:
        return
    used = {m for r in ra.risks for m in r.mitigations}
    for k in sorted(used):
        ref = card.mitigations.get(k)
        if ref is None:
            continue
        first = str(ref.value).split()[0].strip(",.;:'\"") if str(ref.value).split() else ""
        if first.lower() in _NOT_BASE_FORM or (first.endswith("s") and not first.endswith("ss")):
            yield ref.pos(), f"mitigation {k} should start with a verb in its base form, not {first!r}"


@card_rule("CG605", "mitigation defined but never used", "warning")
def own_mitigations_used(card: Card) -> Found:
    ra = _ra(card)
    if ra is None:
        return
    used = {m for r in ra.risks for m in r.mitigations}
    for k in ra.mitigations:
        if k not in used:
            yield _key_at(card, "mitigations", k), f"mitigation {k} is defined but no risk uses it"


@project_rule("CG601", "malformed risk, use or mitigation id")
def catalogue_ids(registry: Registry, cards: list[RiskFacts]) -> Found:
    for k, ref in registry.entries.get("mitigations", {}).items():
        if not MITIGATION_ID.match(k):
            yield ref.src.key_pos(ref.path), f"mitigation id {k!r} must look like M1, M2, …"


@project_rule("CG605", "mitigation defined but never used", "warning")
def catalogue_used(registry: Registry, cards: list[RiskFacts]) -> Found:
    if not cards:
        return
    used = set().union(*(c.used for c in cards))
    for k, ref in registry.entries.get("mitigations", {}).items():
        if k not in used:
            yield ref.src.key_pos(ref.path), f"mitigation {k} is in the catalogue but no risk uses it"


@project_rule("CG606", "near-duplicate mitigation sentences", "warning")
def near_duplicates(registry: Registry, cards: list[RiskFacts]) -> Found:
    shared = registry.entries.get("mitigations", {})
    catalogue: dict[str, tuple[str, tuple[str, tuple[Any, ...]] | None, Ref | None]] = {
        k: (str(r.value), None, r) for k, r in shared.items()}
    for c in cards:
        catalogue.update({k: (text, where, None) for k, text, where in c.mitigations if k not in shared})
    items = [(k, text, where, ref, " ".join(text.lower().split())) for k, (text, where, ref) in catalogue.items()]
    sm = difflib.SequenceMatcher(None)
    for j, (k2, t2, w2, r2, s2) in enumerate(items):
        sm.set_seq2(s2)  # difflib caches its analysis of the second sequence: set it once per row
        for k1, t1, _, _, s1 in items[:j]:
            sm.set_seq1(s1)
            if sm.real_quick_ratio() >= SIMILAR and sm.quick_ratio() >= SIMILAR and sm.ratio() >= SIMILAR:
                where = _place(w2) if w2 is not None else r2.pos() if r2 is not None else Where("")
                yield where, (f"mitigation {k2} ({t2!r}) nearly repeats {k1} ({t1!r}); "
                              "merge them or make the difference plain")


def _place(place: tuple[str, tuple[Any, ...]]) -> Where:
    """Where a card's own mitigation is written: its file read again (a finding is rare; a card's facts
    come from the dependency graph's record without loading the card)."""
    from cardgen.loading.yamlpos import locate

    return locate(*place)
