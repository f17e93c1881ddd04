"""Risk documentation as data: the computed summary, the cells, the export. (Its rules are in
``rules/risks.py``.)

The numbers in the summary sentence and the matrix shape come from the data here, never from text
an author typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .card import Card
from .schema import CellNote, RiskAssessment

LEVEL_SYMBOL = {"high": "🔴", "medium": "🟠", "low": "🟢", "not applicable": "⚪", "unknown": "❔"}
LAYER_TEXT = {"capability": "Capability risk", "human interaction": "Human interaction risk",
              "systemic": "Systemic risk"}


def harm_text(area: str) -> str:
    return f"{area[0].upper()}{area[1:]} harms"


@dataclass
class Summary:
    risks: int
    mitigations: int
    uses: int


def _assessment(card: Card) -> RiskAssessment:
    ra = card.model.risk_assessment
    if ra is None:
        raise ValueError(f"{card.repo_id} has no risk assessment")
    return ra


def summary(card: Card) -> Summary:
    ra = _assessment(card)
    mitigations = {m for r in ra.risks for m in r.mitigations if m in card.mitigations}
    return Summary(len({r.id for r in ra.risks}), len(mitigations), len({u.id for u in ra.uses}))


def cell(ra: RiskAssessment, rid: str, uid: str) -> tuple[str, str | None]:
    v = ra.matrix.get(rid, {}).get(uid)
    if v is None:
        return "not assessed", None
    if isinstance(v, CellNote):
        return v.level, v.note
    return v, None


def cell_text(level: str) -> str:
    return f"{LEVEL_SYMBOL.get(level, '')} {level}".strip()


def export(card: Card) -> dict[str, Any]:
    """The assessment as plain data, for other tools (`cardgen export --risks`)."""
    ra = _assessment(card)
    s = summary(card)
    used = sorted({m for r in ra.risks for m in r.mitigations}, key=_mkey)
    return {
        "repo_id": card.repo_id,
        "summary": {"risks": s.risks, "mitigations": s.mitigations, "uses": s.uses},
        "uses": [u.model_dump() for u in ra.uses],
        "risks": [{**r.model_dump(), "layer_text": LAYER_TEXT[r.layer], "harm_text": harm_text(r.harm_area)}
                  for r in ra.risks],
        "mitigations": {m: card.mitigations[m].value for m in used if m in card.mitigations},
        "matrix": {r.id: {u.id: dict(zip(("level", "note"), cell(ra, r.id, u.id), strict=True)) for u in ra.uses}
                   for r in ra.risks},
    }


def _mkey(m: str) -> tuple[int, str]:
    return (len(m), m)
