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

from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cardgen.entries import (
    Cell,
    Citation,
    Dataset,
    License,
    Org,
    Scalar,
    Section,
    Strict,
    Training,
)
from cardgen.risk.schema import RiskAssessment


class Message(Strict):
    """One turn of a conversation, as chat templates receive it."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str


class Prompt(Strict):
    """The documented prompt format: a raw template with named `{placeholders}`, or a chat template
    (the Jinja text the tokenizer carries, or `from_tokenizer`), or both."""

    name: str | None = Field(None, description="a name for the format, e.g. `Orca-Hashes`")
    template: str | None = Field(None, description="the raw prompt, with `{placeholders}`")
    chat_template: str | None = Field(
        None, description="the chat template's Jinja text (as in tokenizer_config.json), or `from_tokenizer`")
    conversation: list[Message] = Field(
        default_factory=list, description="the example conversation the card shows (default: the system prompt, "
                                          "if any, and `usage.message`)")
    bos: Literal["tokenizer", "template", "none"] | None = Field(
        None, description="who adds the beginning-of-sequence token: the tokenizer when it encodes, the template "
                          "text itself (encoded without special tokens), or nobody")
    bos_token: str | None = Field(None, description="the BOS token's text, e.g. `<s>` (for the shown chat example)")
    eos_token: str | None = Field(None, description="the EOS token's text, e.g. `</s>` (for the shown chat example)")
    chat_template_differs: str | None = Field(
        None, description="why the raw `template` deliberately differs from the tokenizer's chat template (shown in "
                          "the card; the smoke test then reports the difference without failing)")
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

    @model_validator(mode="after")
    def _some_format(self) -> Prompt:
        if self.template is None and self.chat_template is None:
            raise ValueError("give `template` (a raw prompt), `chat_template` (text or `from_tokenizer`), or both")
        return self


#: the snippet is Python built from these values: a dtype from a closed list, keyword names that are
#: identifiers, values written as Python literals (``repr`` of validated scalars)
Dtype = Literal["float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2", "int8", "uint8", "auto"]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Usage(Strict):
    """How the generated transformers snippet loads and prompts the model."""

    intro: str | None = None
    style: str | None = Field(None, description="snippet template: templates/snippets/<style>.py.j2; by default "
                                                "the one that serves the card's pipeline_tag and library_name")
    dtype: Dtype | None = Field("float16", description="torch dtype name, or null to leave it out; when not "
                                                       "given, float16 for generating models, left out otherwise")
    tokenizer_kwargs: dict[Identifier, Scalar] = Field(default_factory=dict)
    model_kwargs: dict[Identifier, Scalar] = Field(default_factory=dict)
    message: str = Field("Write me a poem please", description="the input text; for fill-mask it holds `{mask}`, "
                                                              "for question answering it is the question")
    context: str | None = Field(None, description="question answering: the passage the answer is found in")
    sentences: list[str] = Field(default_factory=list, description="feature extraction and sentence similarity: "
                                                                   "the sentences embedded (default: `message`)")
    file: str | None = Field(None, description="GGUF: the file the snippet loads (default: the first listed)")
    generation: dict[Identifier, Scalar] = Field(default_factory=dict)
    max_new_tokens: int = Field(256, ge=1)
    skip_special_tokens: bool = True
    none: str | None = Field(None, description="why the card shows no usage snippet (the Usage section says it); "
                                               "given alone, instead of the snippet's fields")
    transformers: str | None = Field(None, pattern=r"^\d+\.\d+(\.\d+)?$",
                                     description="the transformers version the snippet is written for (the oldest "
                                                 "it must run on), e.g. `4.32`: below 4.56, which introduced "
                                                 "`dtype=`, the model is loaded with `torch_dtype=`")

    @model_validator(mode="after")
    def _none_alone(self) -> Usage:
        if self.none is not None and self.model_fields_set - {"none"}:
            raise ValueError("`usage.none` says why the card shows no snippet: give it alone, without "
                             + ", ".join(f"`{f}`" for f in sorted(self.model_fields_set - {"none"})))
        return self


class Variant(Strict):
    """A GPTQ variant, living on its own branch."""

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


class EXL2Variant(Strict):
    """An ExLlamaV2 variant on its own branch: bits per weight, and the output layer's bits."""

    branch: str
    bits: float = Field(gt=0, le=16, description="average bits per weight, e.g. 4.65")
    head_bits: int | None = Field(None, ge=1, le=16, description="bits of the output layer (lm_head)")
    dataset: str | Dataset | None = Field(None, description="calibration dataset")
    size: str
    description: str


class AWQVariant(Strict):
    """An AWQ variant (usually the `main` branch)."""

    branch: str = "main"
    bits: int = Field(4, ge=1, le=16)
    group_size: int = Field(128, ge=-1)
    version: Literal["GEMM", "GEMV"] = "GEMM"
    zero_point: bool = True
    dataset: str | Dataset | None = Field(None, description="calibration dataset")
    size: str
    description: str | None = None


class GGUFFile(Strict):
    """One GGUF file of the repository, as llama.cpp's users pick one."""

    file: str = Field(pattern=r"^[^/\\\x00-\x1f]+\.gguf$", description="file name in the repository")
    quant_method: str = Field(description="e.g. `Q4_K_M`, `Q8_0`, `F16`")
    bits: int = Field(ge=1, le=32)
    size: str = Field(description="e.g. `4.37 GB`")
    max_ram: str = Field(description="RAM needed without GPU offloading, e.g. `6.87 GB`")
    use_case: str


class GPTQ(Strict):
    method: Literal["GPTQ"]
    variants: list[Variant] = Field(min_length=1)


class EXL2(Strict):
    method: Literal["EXL2"]
    variants: list[EXL2Variant] = Field(min_length=1)


class AWQ(Strict):
    method: Literal["AWQ"]
    variants: list[AWQVariant] = Field(min_length=1)


class GGUF(Strict):
    method: Literal["GGUF"]
    files: list[GGUFFile] = Field(min_length=1)
    intro: str | None = Field(None, description="text above the table of provided files")


#: a quantisation, by `method`: each format has its own fields, table and smoke path
Quantization = Annotated[GPTQ | EXL2 | AWQ | GGUF, Field(discriminator="method")]


def branches(q: GPTQ | EXL2 | AWQ | GGUF | None) -> list[str]:
    """The branches a quantisation's variants live on (GGUF files all live on `main`)."""
    if q is None or isinstance(q, GGUF):
        return []
    return [v.branch for v in q.variants]


class EvalResult(Strict):
    """One evaluation result: the fields of huggingface_hub's ``EvalResult``, which builds the
    `model-index` (results of one task and dataset grouped, as the Hub expects)."""

    task_type: str = Field(description="a Hub task id, e.g. `text-classification`")
    task_name: str | None = None
    dataset_type: str = Field(description="the dataset's Hub id, e.g. `glue`")
    dataset_name: str = Field(description="a pretty name, e.g. `GLUE SST-2`")
    dataset_config: str | None = None
    dataset_split: str | None = None
    dataset_revision: str | None = None
    dataset_args: dict[str, Scalar] | None = None
    metric_type: str = Field(description="a metric id, e.g. `accuracy`")
    metric_value: float | int
    metric_name: str | None = None
    metric_config: str | None = None
    metric_args: dict[str, Scalar] | None = None
    verified: bool | None = Field(None, description="set by the Hub's evaluation service only")
    verify_token: str | None = Field(None, description="the Hub's signature of a verified result")
    source_name: str | None = None
    source_url: str | None = Field(None, description="where the result comes from (required with `source_name`)")
    task_id: str | None = Field(None, description="the benchmark's task id (its `eval.yaml`): the result is written "
                                "to `.eval_results/` too")
    benchmark: str | None = Field(None, description="the benchmark's Hub dataset id, when it is not `dataset_type`")
    date: str | None = Field(None, description="when the evaluation ran (ISO 8601), for `.eval_results/`")
    notes: str | None = Field(None, description="how it ran (harness, n-shot…), for `.eval_results/`")
    source_user: str | None = None
    source_org: str | None = None

    @model_validator(mode="after")
    def _source(self) -> EvalResult:
        if self.source_name is not None and self.source_url is None:
            raise ValueError("`source_name` needs `source_url` too (huggingface_hub's EvalResult refuses a source "
                             "without a URL)")
        if (self.source_user or self.source_org) and self.source_url is None:
            raise ValueError("`source_user` and `source_org` need `source_url` too (huggingface_hub's "
                             "EvalResultEntry refuses them without a URL)")
        return self


#: the fields only `.eval_results/` carries: huggingface_hub's ``EvalResult`` (the model-index) has none of them
ENTRY_ONLY = frozenset({"task_id", "benchmark", "date", "notes", "source_user", "source_org"})


class CO2(Strict):
    """`co2_eq_emissions`: the emissions of training, as the Hub's model card spec has them."""

    emissions: float | int = Field(ge=0, description="grams of CO2 equivalent")
    source: str | None = Field(None, description="how it was measured, e.g. `CodeCarbon`")
    training_type: str | None = Field(None, description="e.g. `pre-training`, `fine-tuning`")
    geographical_location: str | None = None
    hardware_used: str | None = None


class WidgetExample(Strict):
    """One example input of the Hub's inference widget. The Hub reads an example's other keys as it finds
    them: a key not typed here is kept as written (a warning names it, CG804, in case it is a typo)."""

    model_config = ConfigDict(extra="allow")

    text: str | None = None
    example_title: str | None = None
    context: str | None = Field(None, description="question answering: the passage")
    source_sentence: str | None = Field(None, description="sentence similarity: the sentence compared")
    sentences: list[str] | None = Field(None, description="sentence similarity: the sentences compared with it")
    candidate_labels: str | None = Field(None, description="zero-shot classification: comma-separated labels")
    messages: list[Message] | None = Field(None, description="chat models: a conversation")
    src: str | None = Field(None, description="an image or audio URL")
    table: dict[str, Any] | None = Field(None, description="table question answering: the table, column by column")
    structured_data: dict[str, Any] | None = Field(None, description="tabular tasks: the rows, column by column")
    multi_class: bool | None = Field(None, description="zero-shot classification: several labels may be true")
    group: str | None = Field(None, description="the tab of examples this one is shown under")
    output: dict[str, Any] | list[Any] | None = Field(
        None, description="the output shown before the widget is run: `{text: ...}`, `{url: ...}` or a list of "
                          "`{label: ..., score: ...}`")
    parameters: dict[str, Any] | None = Field(None, description="the inference parameters of this example")

    @model_validator(mode="after")
    def _input(self) -> WidgetExample:
        if not (self.text or self.messages or self.src or self.source_sentence or self.table or self.structured_data):
            raise ValueError("a widget example needs an input: `text`, `messages`, `src`, `source_sentence`, `table` "
                             "or `structured_data`")
        return self


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
    base_card_headings: Literal["demoted", "as_written"] = Field(
        "demoted", description="the embedded base card's headings: one level lower, under the derived card's own "
                               "(default), or as the base card writes them (an imported card keeps its original's)")
    name: str | None = None
    title: str | None = None
    tagline: str | None = None
    description: str | None = None
    description_heading: str = "Model Description"
    creator: str | Org | None = None
    model_type: str | None = None
    model_type_description: str | None = None
    parameters: str | None = None
    language: str | list[str] | None = Field(
        None, description="a language code, or a list of them (the Hub reads both; the README writes it as given)")
    license: str | License | None = None
    library_name: str | None = None
    library_display: str | None = None
    pipeline_tag: str | None = None
    tags: list[str] | None = None
    inference: bool | dict[str, Any] | None = Field(
        None, description="false: no inference widget; or a mapping of its parameters, as the Hub reads them")
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
    co2_eq_emissions: CO2 | None = None
    widget: list[WidgetExample] | None = None
    citations: list[str | Citation] | None = None
    citations_heading: str = "Citations"
    cite_as: list[str | Citation] | None = Field(None, description="how to cite this model itself")
    cite_as_heading: str = "How to cite"
    sections: list[str | Section] | None = None
    risk_assessment: RiskAssessment | None = None
    metadata: dict[str, Any] | None = Field(None, description="extra front-matter keys, e.g. `quantized_by`")
    templates: str | None = Field(None, description="folder of partials overriding the defaults, relative to this file")
    context_length: int | None = Field(None, ge=1, description="tokens the model reads at most (config.json's "
                                                             "max_position_embeddings, a GGUF's context_length)")
    model_dir: str | None = Field(None, description="the model's local folder, relative to this file: `validate` "
                                                    "checks the card against it (never published)")

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
    {"repo_id", "suite", "extends", "embed_base_card", "base_card_headings", "title", "tagline", "description",
     "sections", "quantization", "metadata", "templates", "base_model", "base_model_relation", "usage",
     "citations_heading", "risk_assessment", "evaluation", "new_version", "inference", "co2_eq_emissions",
     "widget", "model_dir"}
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
