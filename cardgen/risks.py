"""Risk documentation: checks on the uses × risks × mitigations matrix, and the computed summary.

The numbers in the summary sentence and the matrix shape come from the data here, never from text
an author typed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from .diagnostics import Diagnostic, error, warning
from .hubspec import suggest
from .model import CellNote, RiskAssessment
from .resolve import Card, Resolver

RISK_ID = re.compile(r"^R[1-9][0-9]*$")
USE_ID = re.compile(r"^U[1-9][0-9]*$")
MITIGATION_ID = re.compile(r"^M[1-9][0-9]*$")
SIMILAR = 0.8  # difflib ratio at which two mitigation sentences are near-duplicates

LEVEL_SYMBOL = {"high": "🔴", "medium": "🟠", "low": "🟢", "not applicable": "⚪", "unknown": "❔"}
LAYER_TEXT = {"capability": "Capability risk", "human interaction": "Human interaction risk",
              "systemic": "Systemic risk"}


def _harm_text(area: str) -> str:
    return f"{area[0].upper()}{area[1:]} harms"


def check(card: Card) -> list[Diagnostic]:
    ra: RiskAssessment | None = card.model.risk_assessment
    if ra is None:
        return []
    base = ("risk_assessment",)

    def at(*p):
        return card.loc(*base, *p)

    def key_at(*p):
        return card.key_loc(*base, *p)

    out: list[Diagnostic] = []
    seen: dict[str, int] = {}
    for kind, items, pat in (("uses", ra.uses, USE_ID), ("risks", ra.risks, RISK_ID)):
        seen = {}
        for i, item in enumerate(items):
            if not pat.match(item.id):
                out.append(error(*at(kind, i, "id"), "CG601",
                                 f"{kind[:-1]} id {item.id!r} must look like {pat.pattern[1:3]}1, {pat.pattern[1:3]}2, …"))
            if item.id in seen:
                out.append(error(*at(kind, i, "id"), "CG305",
                                 f"{kind[:-1]} id {item.id!r} is already used by entry {seen[item.id] + 1}"))
            seen.setdefault(item.id, i)
    for k in ra.mitigations:
        if not MITIGATION_ID.match(k):
            out.append(error(*key_at("mitigations", k), "CG601", f"mitigation id {k!r} must look like M1, M2, …"))
        shared = card.mitigations.get(k)
        if shared and shared.path[0] == "mitigations":
            out.append(error(*key_at("mitigations", k), "CG305",
                             f"mitigation id {k!r} is already in the shared catalogue ({shared.src.file})"))
    for i, risk in enumerate(ra.risks):
        if not risk.mitigations:
            out.append(error(*at("risks", i, "mitigations"), "CG602", f"risk {risk.id} has no mitigation"))
        for j, mid in enumerate(risk.mitigations):
            if mid not in card.mitigations:
                out.append(error(*at("risks", i, "mitigations", j), "CG301",
                                 f"mitigation {mid!r} is not in the catalogue{suggest(mid, card.mitigations)}"))
    risk_ids = [r.id for r in ra.risks]
    use_ids = [u.id for u in ra.uses]
    for rid, row in ra.matrix.items():
        if rid not in risk_ids:
            out.append(error(*key_at("matrix", rid), "CG603", f"matrix row {rid!r} is not a listed risk{suggest(rid, risk_ids)}"))
            continue
        for uid in row:
            if uid not in use_ids:
                out.append(error(*key_at("matrix", rid, uid), "CG603",
                                 f"matrix cell {rid}×{uid}: {uid!r} is not a listed use{suggest(uid, use_ids)}"))
    if not ra.allow_missing_cells:
        for rid in risk_ids:
            row = ra.matrix.get(rid)
            missing = [u for u in use_ids if row is None or u not in row]
            if missing:
                where = key_at("matrix", rid) if row is not None else key_at("matrix")
                out.append(error(*where, "CG604", f"matrix has no level for {rid} × {', '.join(missing)}; "
                                                   "add the cells or set allow_missing_cells: true"))
    used = {m for r in ra.risks for m in r.mitigations}
    for k in ra.mitigations:
        if k not in used:
            out.append(warning(*key_at("mitigations", k), "CG605", f"mitigation {k} is defined but no risk uses it"))
    return out


def check_catalogue(resolver: Resolver, cards: list[Card]) -> list[Diagnostic]:
    """Shared mitigations: well-formed ids, used by some card, no near-duplicate sentences."""
    out = []
    shared = resolver.registry.entries.get("mitigations", {})
    used = {m for c in cards if c.model.risk_assessment for r in c.model.risk_assessment.risks
            for m in r.mitigations}
    any_risks = any(c.model.risk_assessment for c in cards)
    for k, ref in shared.items():
        if not MITIGATION_ID.match(k):
            out.append(error(*ref.src.key_pos(ref.path), "CG601", f"mitigation id {k!r} must look like M1, M2, …"))
        if any_risks and k not in used:
            out.append(warning(*ref.src.key_pos(ref.path), "CG605", f"mitigation {k} is in the catalogue but no risk uses it"))
    catalogue = dict(shared)
    for c in cards:
        catalogue.update({k: v for k, v in c.mitigations.items() if k not in shared})
    out += near_duplicates(catalogue)
    return out


def near_duplicates(catalogue: dict) -> list[Diagnostic]:
    out = []
    items = [(k, r, _norm(r.value)) for k, r in catalogue.items()]
    sm = difflib.SequenceMatcher(None)
    for j, (k2, r2, s2) in enumerate(items):
        sm.set_seq2(s2)  # difflib caches its analysis of the second sequence: set it once per row
        for k1, r1, s1 in items[:j]:
            sm.set_seq1(s1)
            if sm.real_quick_ratio() >= SIMILAR and sm.quick_ratio() >= SIMILAR and sm.ratio() >= SIMILAR:
                out.append(warning(*r2.src.pos(r2.path), "CG606",
                                   f"mitigation {k2} ({r2.value!r}) nearly repeats {k1} ({r1.value!r}); "
                                   "merge them or make the difference plain"))
    return out


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


@dataclass
class Summary:
    risks: int
    mitigations: int
    uses: int


def summary(card: Card) -> Summary:
    ra = card.model.risk_assessment
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


def export(card: Card) -> dict:
    """The assessment as plain data, for other tools (`cardgen export --risks`)."""
    ra = card.model.risk_assessment
    s = summary(card)
    used = sorted({m for r in ra.risks for m in r.mitigations}, key=_mkey)
    return {
        "repo_id": card.repo_id,
        "summary": {"risks": s.risks, "mitigations": s.mitigations, "uses": s.uses},
        "uses": [u.model_dump() for u in ra.uses],
        "risks": [{**r.model_dump(), "layer_text": LAYER_TEXT[r.layer], "harm_text": _harm_text(r.harm_area)}
                  for r in ra.risks],
        "mitigations": {m: card.mitigations[m].value for m in used if m in card.mitigations},
        "matrix": {r.id: {u.id: dict(zip(("level", "note"), cell(ra, r.id, u.id))) for u in ra.uses}
                   for r in ra.risks},
    }


def _mkey(m: str):
    return (len(m), m)
