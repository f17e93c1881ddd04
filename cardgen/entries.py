"""The strict base of the card format and the kinds of entry a cards folder shares: organisations,
licences, citations, datasets, dataset tables, trainings and free sections. A card gives each either as
the id of an entry in `cards/_shared/` or as the entry itself (``schema.SharedSource`` holds them by id).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    model_validator,
)

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

    @model_validator(mode="after")
    def _fits(self) -> Table:
        for i, row in enumerate(self.rows):
            if len(row) > len(self.columns):
                raise ValueError(f"row {i + 1} has {len(row)} cells but the table has {len(self.columns)} columns")
        return self


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


class Section(Strict):
    """Free markdown, placed before or after one of the template's sections."""

    id: str | None = None
    heading: str | None = Field(None, description="null for a block without a heading")
    level: int = Field(2, ge=1, le=6)
    body: str | None = None
    file: str | None = Field(None, description="markdown file, relative to the source's folder")
    after: str | None = None
    before: str | None = None
    verbatim: bool = Field(False, description="shown exactly as written: `{name}` and the like are not filled in")
