"""The card format, declared once: pydantic v2 models, strict, unknown keys forbidden.

Two kinds of source file exist:

* ``CardSource``: one per Hub repository (or per suite of repositories), in
  ``cards/<owner>/<name>/*.yaml``;
* ``SharedSource``: facts written once, in ``cards/_shared/*.yaml``, referenced by id.

Wherever a shared kind is accepted (citations, datasets, licences, organisations, sections,
training blocks, uses, risks), a source may give either the id of a shared entry (a string) or
the entry itself (a mapping). ``cardgen schema`` exports these models as JSON Schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

Cell = str | int | float | bool
Scalar = str | int | float | bool | None


class Strict(BaseModel):
    # `model_` names (model_type, model_kwargs) are card fields here, not pydantic API
    model_config = ConfigDict(extra="forbid", strict=True, frozen=False, protected_namespaces=())


class Org(Strict):
    """An organisation or person: who made, quantised or repackaged a model."""

    name: str
    url: str | None = None
    hub: str | None = Field(None, description="namespace on the Hub, e.g. `stabilityai`")


class License(Strict):
    """A licence: a Hub id, or `other` with a slug name and a link."""

    id: str = Field(description="Hub licence id, e.g. `apache-2.0`, or `other`")
    name: str | None = Field(None, description="`license_name` slug, required with `other`")
    link: str | None = Field(None, description="`license_link`: a URL or LICENSE / LICENSE.md / LICENSE.txt")
    title: str | None = Field(None, description="the licence's title as shown in the body")
    url: str | None = Field(None, description="where the body links the title; `{repo_id}` is filled in")
    statement: str | None = Field(
        None, description="markdown for the Model Details `License` line; `{name}`, `{title}`, `{url}` are filled in"
    )


class Citation(Strict):
    """A BibTeX entry with structured fields; rendered in the order the source writes them."""

    key: str
    type: str = "misc"
    title: str | None = None
    author: str | list[str] | None = Field(None, description="a list of names, or one BibTeX string")
    year: int | str | None = None
    month: str | None = None
    eprint: str | None = None
    archivePrefix: str | None = None
    primaryClass: str | None = None
    url: str | None = None
    howpublished: str | None = None
    journal: str | None = None
    booktitle: str | None = None
    publisher: str | None = None
    volume: str | None = None
    pages: str | None = None
    doi: str | None = None
    note: str | None = None
    indent: int = Field(6, ge=0, le=16, description="spaces before each field")
    spaced_equals: bool = Field(False, description="`title = {..}` rather than `title={..}`")
    trailing_comma: bool = Field(False, description="a comma after the last field")

    # a tuple default: pydantic inspects a default_factory's signature on every validation
    _order: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _keep_order(cls, data: Any, handler: Callable[[Any], Citation]) -> Citation:
        inst = handler(data)
        if isinstance(data, dict):
            inst._order = tuple(k for k in data if k in BIBTEX_FIELDS)
        return inst


BIBTEX_FIELDS = (
    "title author year month eprint archivePrefix primaryClass url howpublished journal booktitle "
    "publisher volume pages doi note"
).split()


class Dataset(Strict):
    """A dataset: a Hub id (listed in the front matter) and/or a name and link for the body."""

    id: str | None = Field(None, description="Hub dataset id, `owner/name` or a legacy canonical name")
    name: str | None = None
    url: str | None = Field(None, description="link for the body; defaults to the Hub page of `id`")
    description: str | None = None
    size: str | None = None
    metadata: bool = Field(True, description="list `id` in the front matter `datasets`")


class Table(Strict):
    columns: list[str] = Field(min_length=1)
    rows: list[list[Cell]]


class DatasetListing(Strict):
    """Datasets listed in the body, in this order; `{count}` in the intro is the number listed."""

    intro: str
    items: list[str | Dataset] = Field(min_length=1)


class Training(Strict):
    heading: str | None = Field(None, description="a `## ` section of its own (else the parts follow Model Details)")
    architecture: Table | None = None
    dataset_heading: str = "Training Dataset"
    dataset_text: str | None = None
    datasets: DatasetListing | None = None
    procedure_heading: str = "Training Procedure"
    procedure: str | None = Field(None, description="prose; `{precision}` and `{optimizer}` are filled in")
    precision: str | None = None
    optimizer: str | None = None
    hyperparameters: Table | None = None


class Prompt(Strict):
    """The documented prompt format: a template with named `{placeholders}`."""

    name: str | None = Field(None, description="a name for the format, e.g. `Orca-Hashes`")
    template: str
    placeholders: dict[str, str] = Field(
        default_factory=lambda: {"system_message": "the system prompt", "prompt": "the user's message"},
        description="placeholder name -> what it stands for",
    )
    system_prompt: str | None = Field(None, description="default value of `{system_message}`")
    stop_strings: list[str] = Field(default_factory=list)
    stop_token_ids: list[int] = Field(default_factory=list)
    special_tokens: list[str] = Field(default_factory=list, description="markers that must be single tokens")
    intro: str | None = None
    show: Literal["example", "template", "system"] = "example"
    example: dict[str, str] = Field(default_factory=dict, description="placeholder values for the shown example")
    example_response: str | None = None


#: the snippet is Python built from these values: a dtype from a closed list, keyword names that are
#: identifiers, values written as Python literals (``repr`` of validated scalars)
Dtype = Literal["float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2", "int8", "uint8", "auto"]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Usage(Strict):
    """How the generated transformers snippet loads and prompts the model."""

    intro: str | None = None
    style: str = Field("default", description="snippet template: templates/snippets/<style>.py.j2")
    dtype: Dtype | None = Field("float16", description="torch dtype name, or null to leave it out")
    tokenizer_kwargs: dict[Identifier, Scalar] = Field(default_factory=dict)
    model_kwargs: dict[Identifier, Scalar] = Field(default_factory=dict)
    message: str = "Write me a poem please"
    generation: dict[Identifier, Scalar] = Field(default_factory=dict)
    max_new_tokens: int = Field(256, ge=1)
    skip_special_tokens: bool = True


class Variant(Strict):
    """A quantisation variant, living on its own branch."""

    branch: str
    bits: int = Field(ge=1, le=16)
    group_size: int | None = Field(None, description="null for no grouping (`-1`)")
    act_order: bool
    damp_percent: float
    dataset: str | Dataset = Field(description="calibration dataset")
    seq_len: int
    size: str
    compatibility: dict[str, bool] = Field(default_factory=dict)
    description: str


class Quantization(Strict):
    method: str = "GPTQ"
    variants: list[Variant] = Field(min_length=1)


class EvalResult(Strict):
    task_type: str
    task_name: str | None = None
    dataset_type: str
    dataset_name: str
    dataset_config: str | None = None
    dataset_split: str | None = None
    metric_type: str
    metric_value: float | int
    metric_name: str | None = None
    source_name: str | None = None
    source_url: str | None = None


class Section(Strict):
    """Free markdown, placed before or after one of the template's sections."""

    id: str | None = None
    heading: str | None = Field(None, description="null for a block without a heading")
    level: int = Field(2, ge=1, le=6)
    body: str | None = None
    file: str | None = Field(None, description="markdown file, relative to the source's folder")
    after: str | None = None
    before: str | None = None


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


class SuiteMember(Strict):
    repo_id: str
    size: str
    name: str | None = None
    parameters: str | None = None
    architecture: dict[str, Cell] = Field(default_factory=dict)
    hyperparameters: dict[str, Cell] = Field(default_factory=dict)


class CardSource(Strict):
    """One Hub repository's card, or a suite of them (`suite`)."""

    repo_id: str | None = None
    suite: list[SuiteMember] | None = None
    suite_column: str = "Parameters"
    extends: str | None = Field(None, description="repo id of a card in `cards/` to inherit from")
    embed_base_card: bool = False
    name: str | None = None
    title: str | None = None
    tagline: str | None = None
    description: str | None = None
    description_heading: str = "Model Description"
    creator: str | Org | None = None
    model_type: str | None = None
    model_type_description: str | None = None
    parameters: str | None = None
    language: list[str] | None = None
    license: str | License | None = None
    library_name: str | None = None
    library_display: str | None = None
    pipeline_tag: str | None = None
    tags: list[str] | None = None
    inference: bool | None = None
    base_model: str | list[str] | None = None
    base_model_relation: str | None = None
    new_version: str | None = None
    contact: str | None = None
    trust_remote_code: bool | None = None
    datasets: list[str | Dataset] | None = None
    prompt: Prompt | None = None
    usage: Usage | None = None
    training: str | Training | None = None
    quantization: Quantization | None = None
    evaluation: list[EvalResult] | None = None
    citations: list[str | Citation] | None = None
    citations_heading: str = "Citations"
    cite_as: list[str | Citation] | None = Field(None, description="how to cite this model itself")
    cite_as_heading: str = "How to cite"
    sections: list[str | Section] | None = None
    risk_assessment: RiskAssessment | None = None
    metadata: dict[str, Any] | None = Field(None, description="extra front-matter keys, e.g. `quantized_by`")
    templates: str | None = Field(None, description="folder of partials overriding the defaults, relative to this file")

    @field_validator("license", mode="before")
    @classmethod
    def _single_license(cls, v: Any) -> Any:
        if isinstance(v, list):
            raise PydanticCustomError("CG208", "license must be a single licence id, not a list: {v}", {"v": v})
        return v

    @model_validator(mode="after")
    def _one_target(self) -> CardSource:
        if (self.repo_id is None) == (self.suite is None):
            raise ValueError("give exactly one of `repo_id` (one repository) or `suite` (several)")
        return self


#: fields a derived card (``extends``) does not take from its base
NOT_INHERITED = frozenset(
    {"repo_id", "suite", "extends", "embed_base_card", "title", "tagline", "description", "sections",
     "quantization", "metadata", "templates", "base_model", "base_model_relation", "usage",
     "citations_heading", "risk_assessment", "evaluation", "new_version", "inference"}
)


class SharedSource(Strict):
    """Facts written once in `cards/_shared/`, each kind a mapping from id to entry."""

    orgs: dict[str, Org] = Field(default_factory=dict)
    licenses: dict[str, License] = Field(default_factory=dict)
    citations: dict[str, Citation] = Field(default_factory=dict)
    datasets: dict[str, Dataset] = Field(default_factory=dict)
    sections: dict[str, Section] = Field(default_factory=dict)
    trainings: dict[str, Training] = Field(default_factory=dict)
    mitigations: dict[str, str] = Field(default_factory=dict)



# -- JSON Schema export (`cardgen schema`) ------------------------------------------------------
SCHEMAS: dict[str, type[BaseModel]] = {"card.schema.json": CardSource, "shared.schema.json": SharedSource}


def all_schemas() -> dict[str, type[BaseModel]]:
    """The source schemas and the schema of `cardgen export --risks --format json` (its `document`
    holds a list of these)."""
    from .risk_export import RiskExport

    return {**SCHEMAS, "risks.schema.json": RiskExport}


def schema_text(model: type[BaseModel]) -> str:
    schema = model.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": f"https://cardgen.invalid/schemas/{model.__name__}", **schema}
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_schemas(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in all_schemas().items():
        p = out / name
        p.write_text(schema_text(model), encoding="utf-8")
        written.append(p)
    return written
