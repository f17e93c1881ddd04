"""The risk documentation in the field's machine-readable forms, all from the same data:

* ``json``: cardgen's own shape (``risks.export``), described by ``RISKS_SCHEMA`` (`schemas/risks.schema.json`);
* ``jsonld``: RDF in the terms of the AIRO ontology and the W3C DPV risk extension, built with rdflib;
* ``cyclonedx``: a CycloneDX 1.6 ML-BOM whose `modelCard.considerations` carries the uses, risks and
  mitigations, validated with cyclonedx-python-lib's strict JSON validator.

rdflib and cyclonedx-python-lib are the `export` extra: `pip install 'cardgen[export]'`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict

from cardgen.card import Card
from cardgen.risk import matrix as risks

AIRO = "https://w3id.org/airo#"
DPV = "https://w3id.org/dpv#"
RISK = "https://w3id.org/dpv/risk#"


class ExportUnavailable(Exception):
    """A library an export format needs is not installed (its name is the message): the `export` extra."""


# -- the JSON shape, as a schema --------------------------------------------------------------------
class _Open(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Level(_Open):
    id: str
    label: str
    symbol: str
    dpv: str | None


class _Scale(_Open):
    kind: str
    levels: list[_Level]


class _Basis(_Open):
    method: str
    text: str
    citation: dict[str, Any] | None


class _Summary(_Open):
    risks: int
    mitigations: int
    uses: int
    applying_cells: int
    cells: int


class _Cell(_Open):
    state: str
    applies: bool
    subjects: list[str]
    reason: str | None
    loose: bool


class _Risk(_Open):
    id: str
    statement: str
    layer: str
    harm_area: str
    mitigations: list[str]
    layer_text: str
    harm_text: str
    applies_to: list[str]


class RiskExport(_Open):
    """One card's risk assessment, as `cardgen export --risks --format json` writes it."""

    repo_id: str
    scale: _Scale
    basis: _Basis | None
    summary: _Summary
    uses: list[dict[str, Any]]
    risks: list[_Risk]
    mitigations: dict[str, str]
    matrix: dict[str, dict[str, _Cell | None]]
    use_totals: dict[str, int]


# -- JSON-LD (AIRO, DPV) ----------------------------------------------------------------------------
def graph(cards: list[Card]) -> Any:
    """An rdflib Graph of the assessments: per card, its uses (each an AI system of the model, with
    AIRO's five fields), risks, mitigations (risk controls), and one `airo:hasRisk` statement per
    applying cell, with who is at risk and, on a graded scale, the DPV risk level."""
    try:
        from rdflib import RDF, RDFS, Graph, Literal, Namespace, URIRef
    except ImportError:
        raise ExportUnavailable("rdflib") from None
    airo, dpv, risk_ns = Namespace(AIRO), Namespace(DPV), Namespace(RISK)
    g = Graph()
    g.bind("airo", airo)
    g.bind("dpv", dpv)
    g.bind("risk", risk_ns)
    dpv_levels = {"risk:HighRisk": risk_ns.HighRisk, "risk:ModerateRisk": risk_ns.ModerateRisk,
                  "risk:LowRisk": risk_ns.LowRisk}
    for card in cards:
        ra = card.model.risk_assessment
        if ra is None:
            continue
        base = f"https://huggingface.co/{card.repo_id}"
        model = URIRef(base)
        g.add((model, RDF.type, airo.AIModel))
        g.add((model, RDFS.label, Literal(card.name)))

        def node(local: str, base: str = base) -> URIRef:
            return URIRef(f"{base}#{local}")

        for u in ra.uses:
            use = node(u.id)
            g.add((use, RDF.type, airo.AISystem))
            g.add((use, airo.hasModel, model))
            for prop, value, kind in ((airo.hasPurpose, u.purpose, airo.Purpose),
                                      (airo.hasCapability, u.capability, airo.AICapability),
                                      (airo.isAppliedWithinDomain, u.domain, airo.Domain),
                                      (airo.isDeployedBy, u.ai_user, airo.AIDeployer),
                                      (airo.hasAISubject, u.ai_subject, airo.AISubject)):
                part = node(f"{u.id}-{str(prop).rsplit('#', 1)[1]}")
                g.add((use, prop, part))
                g.add((part, RDF.type, kind))
                g.add((part, RDFS.label, Literal(value)))
            if u.eu_ai_act:
                g.add((use, airo.hasRiskCategory, Literal(u.eu_ai_act.category)))
        used: set[str] = set()
        for r in ra.risks:
            rn = node(r.id)
            g.add((rn, RDF.type, airo.Risk))
            g.add((rn, RDFS.label, Literal(r.statement)))
            g.add((rn, RDFS.comment, Literal(f"{risks.LAYER_TEXT[r.layer]}; {risks.harm_text(r.harm_area)}")))
            for mid in r.mitigations:
                if mid in card.mitigations:
                    used.add(mid)
                    g.add((node(mid), airo.mitigatesRiskConcept, rn))
            for u in ra.uses:
                j = risks.cell(ra, r.id, u.id)
                if j is None or not j.applies():
                    continue
                g.add((node(u.id), airo.hasRisk, rn))
                impact = node(f"{r.id}-{u.id}")
                g.add((impact, RDF.type, airo.Consequence))
                g.add((impact, airo.isConsequenceOf, rn))
                g.add((impact, dpv.hasContext, node(u.id)))
                for s in j.subjects:
                    who = node(f"{u.id}-hasAISubject") if s == "ai_subject" else (
                        node(f"{u.id}-isDeployedBy") if s == "ai_user" else node("institution"))
                    g.add((impact, airo.hasImpactOn, who))
                if j.reason:
                    g.add((impact, RDFS.comment, Literal(j.reason)))
                level = next((lv for lv in risks.levels(ra) if lv.id == j.state), None)
                if level is not None and level.dpv in dpv_levels:
                    g.add((impact, dpv.hasRiskLevel, dpv_levels[level.dpv]))
        for mid in sorted(used):
            g.add((node(mid), RDF.type, airo.RiskControl))
            g.add((node(mid), RDFS.label, Literal(str(card.mitigations[mid].value))))
    return g


def jsonld(cards: list[Card]) -> str:
    g = graph(cards)
    context = {"airo": AIRO, "dpv": DPV, "risk": RISK, "rdfs": "http://www.w3.org/2000/01/rdf-schema#"}
    return str(g.serialize(format="json-ld", indent=2, sort_keys=True, context=context))


# -- CycloneDX --------------------------------------------------------------------------------------
def cyclonedx(cards: list[Card]) -> dict[str, Any]:
    """A CycloneDX 1.6 BOM: one machine-learning-model component per card."""
    components: list[dict[str, Any]] = []
    for card in cards:
        ra = card.model.risk_assessment
        if ra is None:
            continue
        subject_names = {u.id: {"ai_user": u.ai_user, "ai_subject": u.ai_subject, "institution": "institutions"}
                         for u in ra.uses}
        ethical, fairness = [], []
        for r in risks.ordered_risks(ra):
            mitigation = "; ".join(str(card.mitigations[m].value) for m in r.mitigations if m in card.mitigations)
            ethical.append({"name": f"{r.id}: {r.statement}", "mitigationStrategy": mitigation})
            for u in ra.uses:
                j = risks.cell(ra, r.id, u.id)
                if j is None or not j.applies():
                    continue
                subjects: tuple[str, ...] = j.subjects or ("ai_subject",)
                for s in subjects:
                    fairness.append({"groupAtRisk": f"{subject_names[u.id][s]} ({risks.SUBJECT_TEXT[s]}, {u.id})",
                                     "harms": f"{r.id} in {u.id} ({u.purpose}): {r.statement}"
                                              + (f"; {j.reason}" if j.reason else ""),
                                     "mitigationStrategy": mitigation})
        components.append({
            "type": "machine-learning-model",
            "bom-ref": card.repo_id,
            "name": card.repo_id,
            "modelCard": {"considerations": {
                "users": list(dict.fromkeys(u.ai_user for u in ra.uses)),
                "useCases": [f"{u.id}: {u.purpose}. {u.capability} ({u.domain})" for u in ra.uses],
                "ethicalConsiderations": ethical,
                "fairnessAssessments": fairness,
            }},
        })
    names = ",".join(sorted(card.repo_id for card in cards if card.model.risk_assessment))
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'cardgen:' + names)}",
        "version": 1,
        "components": components,
    }


def validate_cyclonedx(doc: dict[str, Any]) -> str | None:
    """cyclonedx-python-lib's strict JSON validator's complaint, or None."""
    try:
        from cyclonedx.exception import MissingOptionalDependencyException
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
    except ImportError:
        raise ExportUnavailable("cyclonedx-python-lib") from None
    try:  # its validator needs the library's own `json-validation` extra (jsonschema), which it imports here
        err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc))
    except (MissingOptionalDependencyException, ImportError):
        raise ExportUnavailable("cyclonedx-python-lib[json-validation]") from None
    return None if err is None else str(err)
