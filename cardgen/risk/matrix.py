"""Risk documentation as data: what each cell of the risk × use matrix says, the prioritised row
order, the per-use totals, the summary counts, and the plain-data export. (Its rules are in
``rules/risks.py``; the RDF and CycloneDX exports in ``risk_export.py``.)

The format is RiskRAG's (Rao et al., CHI 2025): a cell says whether a risk applies to a use and who
is at risk (the deployer, the person affected, an institution), with a reason; rows are prioritised
by the number of uses a risk applies to. A graded scale (the W3C DPV 3-level scale, or a publisher's
own) is opt-in per assessment. Every number here is computed from the sources, never typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cardgen.card import Card
from cardgen.risk.schema import RiskAssessment, RiskCell, ScaleLevel

LAYER_TEXT = {"capability": "Capability risk", "human interaction": "Human interaction risk",
              "systemic": "Systemic risk"}
SUBJECT_TEXT = {"ai_user": "AI user", "ai_subject": "AI subject", "institution": "institution"}
SUBJECT_MEANING = {"ai_user": "the deployer", "ai_subject": "the person affected", "institution": "an institution"}

APPLIES, DOES_NOT_APPLY, UNKNOWN = "applies", "does not apply", "unknown"
NOT_APPLICABLE = "not applicable"  # a graded scale's word for a risk that does not apply
PRESENCE_SYMBOL = {APPLIES: "●", DOES_NOT_APPLY: "○", UNKNOWN: "❔"}
DPV_3 = (ScaleLevel(id="high", label="high", symbol="🔴", dpv="risk:HighRisk"),
         ScaleLevel(id="moderate", label="moderate", symbol="🟠", dpv="risk:ModerateRisk"),
         ScaleLevel(id="low", label="low", symbol="🟢", dpv="risk:LowRisk"))


def harm_text(area: str) -> str:
    return f"{area[0].upper()}{area[1:]} harms"


def levels(ra: RiskAssessment) -> tuple[ScaleLevel, ...]:
    """The levels of a graded scale, highest first (empty for the presence scale)."""
    if ra.scale.kind == "dpv-3":
        return DPV_3
    if ra.scale.kind == "custom":
        return tuple(ra.scale.levels)
    return ()


@dataclass(frozen=True)
class Judgement:
    """One cell, whatever form the source wrote it in."""

    state: str  # applies | does not apply | unknown, or a graded level's id | not applicable
    subjects: tuple[str, ...] = ()
    reason: str | None = None
    loose: bool = False

    def applies(self) -> bool:
        return self.state not in (DOES_NOT_APPLY, NOT_APPLICABLE, UNKNOWN)


def judge(value: Any) -> Judgement | None:
    """Normalise a matrix cell (see ``schema.CellValue``); None where the value says nothing usable."""
    if isinstance(value, RiskCell):
        if value.level is not None:
            state = value.level
        elif value.applies == "unknown":
            state = UNKNOWN
        elif value.applies is None:
            return None
        else:
            state = APPLIES if value.applies else DOES_NOT_APPLY
        return Judgement(state, tuple(value.subjects), value.reason, value.loose)
    if isinstance(value, list):
        return Judgement(APPLIES, tuple(value))
    if value is False:
        return Judgement(DOES_NOT_APPLY)
    if value is True:
        return Judgement(APPLIES)
    if isinstance(value, str):
        return Judgement(value)
    return None


def cell(ra: RiskAssessment, rid: str, uid: str) -> Judgement | None:
    return judge(ra.matrix.get(rid, {}).get(uid)) if uid in ra.matrix.get(rid, {}) else None


def applying_uses(ra: RiskAssessment, rid: str) -> list[str]:
    return [u.id for u in ra.uses if (j := cell(ra, rid, u.id)) is not None and j.applies()]


def ordered_risks(ra: RiskAssessment) -> list[Any]:
    """The rows: by the number of uses a risk applies to, most first, ties as written (RiskRAG's
    prioritisation); or as written when the assessment says so."""
    if ra.order == "as_written":
        return list(ra.risks)
    return sorted(ra.risks, key=lambda r: -len(applying_uses(ra, r.id)))


def use_totals(ra: RiskAssessment) -> dict[str, int]:
    """Use id -> how many risks apply to it."""
    return {u.id: sum(1 for r in ra.risks if (j := cell(ra, r.id, u.id)) is not None and j.applies())
            for u in ra.uses}


def cell_text(ra: RiskAssessment, j: Judgement | None) -> str:
    """A cell as a symbol and words, readable when the page loses its colours."""
    if j is None:
        return "not assessed"
    who = ", ".join(SUBJECT_TEXT[s] for s in j.subjects)
    if ra.scale.kind == "presence":
        if j.state == APPLIES:
            mark = "(●)" if j.loose else "●"
            return f"{mark} {who}" if who else f"{mark} applies"
        return f"{PRESENCE_SYMBOL.get(j.state, '')} {j.state}".strip()
    level = next((lv for lv in levels(ra) if lv.id == j.state), None)
    if level is not None:
        text = f"{level.symbol} {level.label}".strip()
    else:
        text = f"{'⚪' if j.state == NOT_APPLICABLE else '❔'} {j.state}"
    return f"{text}: {who}" if who and j.applies() else text


def legend(ra: RiskAssessment) -> str:
    subjects = ", ".join(f"{SUBJECT_TEXT[s]} = {SUBJECT_MEANING[s]}" for s in SUBJECT_TEXT)
    if ra.scale.kind == "presence":
        loose = any(j is not None and j.loose for r in ra.risks for u in ra.uses for j in [cell(ra, r.id, u.id)])
        parts = [f"● applies, to whom ({subjects})"]
        if loose:
            parts.append("(●) applies through a looser reading of the source data")
        parts += ["○ does not apply", "❔ unknown"]
        return " · ".join(parts)
    parts = [f"{lv.symbol} {lv.label}".strip() for lv in levels(ra)] + ["⚪ not applicable", "❔ unknown"]
    return " · ".join(parts) + f"; who is at risk: {subjects}"


@dataclass
class Summary:
    risks: int
    mitigations: int
    uses: int
    applying_cells: int
    cells: int


def _assessment(card: Card) -> RiskAssessment:
    ra = card.model.risk_assessment
    if ra is None:
        raise ValueError(f"{card.repo_id} has no risk assessment")
    return ra


def summary(card: Card) -> Summary:
    ra = _assessment(card)
    mitigations = {m for r in ra.risks for m in r.mitigations if m in card.mitigations}
    totals = use_totals(ra)
    return Summary(len({r.id for r in ra.risks}), len(mitigations), len({u.id for u in ra.uses}),
                   sum(totals.values()), len(ra.risks) * len(ra.uses))


def _mkey(m: str) -> tuple[int, str]:
    return (len(m), m)


def export(card: Card) -> dict[str, Any]:
    """The assessment as plain data (`cardgen export --risks`; `schemas/risks.schema.json`)."""
    ra = _assessment(card)
    s = summary(card)
    used = sorted({m for r in ra.risks for m in r.mitigations}, key=_mkey)
    basis = None
    if ra.basis:
        cite = card.risk_citation.value if card.risk_citation else None
        basis = {"method": ra.basis.method, "text": ra.basis.text,
                 "citation": cite.model_dump(exclude_none=True, exclude={"indent", "spaced_equals", "trailing_comma"})
                 if cite else None}
    matrix: dict[str, dict[str, Any]] = {}
    for r in ordered_risks(ra):
        row = matrix[r.id] = {}
        for u in ra.uses:
            j = cell(ra, r.id, u.id)
            row[u.id] = None if j is None else {"state": j.state, "applies": j.applies(), "subjects": list(j.subjects),
                                                "reason": j.reason, "loose": j.loose}
    return {
        "repo_id": card.repo_id,
        "scale": {"kind": ra.scale.kind, "levels": [lv.model_dump() for lv in levels(ra)]},
        "basis": basis,
        "summary": {"risks": s.risks, "mitigations": s.mitigations, "uses": s.uses,
                    "applying_cells": s.applying_cells, "cells": s.cells},
        "uses": [u.model_dump(exclude_none=True) for u in ra.uses],
        "risks": [{**r.model_dump(), "layer_text": LAYER_TEXT[r.layer], "harm_text": harm_text(r.harm_area),
                   "applies_to": applying_uses(ra, r.id)} for r in ordered_risks(ra)],
        "mitigations": {m: card.mitigations[m].value for m in used if m in card.mitigations},
        "matrix": matrix,
        "use_totals": use_totals(ra),
    }
