"""The risk matrix's format (RiskRAG's risk × use × mitigation matrix; ``risk.matrix`` holds what its
cells mean): the uses with their AIRO fields, the risks, each cell's judgement, the scale and the basis."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cardgen.entries import Citation, Strict

EUCategory = Literal["excluded", "prohibited", "high_risk_exception", "high_risk", "limited_or_low_risk"]


class EUAIAct(Strict):
    """The EU AI Act category of a use, and the legal basis for it."""

    category: EUCategory
    basis: str = Field(description="e.g. `Annex III(5)(a)`, `Art. 50`")


class Use(Strict):
    """An example use, with the five fields of the AIRO ontology (domain, purpose, capability,
    deployer, AI subject). `ai_user` is the deployer: the seed cards call it "AI User"."""

    id: str
    purpose: str
    capability: str
    ai_user: str = Field(description="the deployer (`airo:isDeployedBy`)")
    ai_subject: str = Field(description="the person affected (`airo:hasAISubject`)")
    domain: str
    eu_ai_act: EUAIAct | None = None


Layer = Literal["capability", "human interaction", "systemic"]
HarmArea = Literal[
    "representation and toxicity",
    "misinformation",
    "information and safety",
    "malicious use",
    "human autonomy and integrity",
    "socioeconomic and environmental",
]
Subject = Literal["ai_user", "ai_subject", "institution"]


class Risk(Strict):
    id: str
    statement: str
    layer: Layer
    harm_area: HarmArea
    mitigations: list[str] = Field(description="mitigation ids")


class RiskCell(Strict):
    """One risk × use judgement. On the presence scale (RiskRAG's): does the risk apply to the use,
    who is at risk, and why. On a graded scale: its `level` instead of `applies`."""

    applies: bool | Literal["unknown"] | None = None
    level: str | None = Field(None, description="a level of the assessment's graded scale")
    subjects: list[Subject] = Field(default_factory=list, description="who is at risk where it applies")
    reason: str | None = None
    loose: bool = Field(False, description="mapped from the source data through a looser synonym")


#: a cell: the full form, or a shorthand: a list of subjects (applies), `false` (does not apply),
#: `unknown`, or a level of a graded scale
CellValue = RiskCell | list[Subject] | bool | str


class ScaleLevel(Strict):
    id: str
    label: str
    symbol: str = ""
    dpv: str | None = Field(None, description="the DPV risk level it maps to, e.g. `risk:HighRisk`")


class Scale(Strict):
    """How cells are judged: `presence` (RiskRAG: applies or not, and who is at risk), the DPV
    3-level scale, or a publisher's own levels."""

    kind: Literal["presence", "dpv-3", "custom"] = "presence"
    levels: list[ScaleLevel] = Field(default_factory=list, description="the levels of a `custom` scale, highest first")


class Basis(Strict):
    """What the matrix rests on, shown as one line under it."""

    method: str = Field(description="e.g. `RiskRAG`, `internal review`, `red-team exercise`")
    text: str = Field(description="one line, e.g. `reconstructed from the RiskRAG study data`")
    citation: str | Citation | None = Field(None, description="a shared citation id, or an entry")


class RiskAssessment(Strict):
    heading: str = "Summary of Model Risks by Example Uses"
    intro: str | None = Field(None, description="text after the computed summary sentence")
    scale: Scale = Field(default_factory=Scale)
    basis: Basis | None = None
    order: Literal["prioritised", "as_written"] = Field(
        "prioritised", description="rows by the number of uses a risk applies to (RiskRAG), or as written")
    uses: list[Use] = Field(min_length=1)
    risks: list[Risk] = Field(min_length=1)
    mitigations: dict[str, str] = Field(default_factory=dict, description="per-card additions to the catalogue")
    matrix: dict[str, dict[str, CellValue]] = Field(description="risk id -> use id -> cell; every cell stated")
