"""The resolved card: everything one README is rendered from, with where each value was written.

A ``Card`` is made by ``resolve.Resolver`` and is self-sufficient: shared references are replaced by
their entries (``Ref``), inheritance is merged, the datasets of training listings and quantisation
variants are resolved, free sections carry their text, the front matter is computed, and the
template search path and the slots its `card.md.j2` places are known. Rendering needs nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cardgen.diagnostics import Where
from cardgen.entries import Dataset, Org
from cardgen.schema import CardSource, SuiteMember

if TYPE_CHECKING:
    from cardgen.cache import FileView
    from cardgen.loading.sources import Source


@dataclass
class Ref:
    """A resolved entry and where it is written."""

    value: Any
    src: Source
    path: tuple[Any, ...]

    def pos(self, *rest: Any) -> Where:
        return self.src.pos((*self.path, *rest))


@dataclass
class SectionRef(Ref):
    """A free section and its markdown (from `body`, or read from its `file`)."""

    text: str = ""


@dataclass
class Card:
    repo_id: str
    src: Source
    model: CardSource
    origin: dict[str, Source]  # field name -> the source that writes it (own or a base's)
    member: SuiteMember | None = None
    members: list[SuiteMember] = field(default_factory=list)
    base: Card | None = None
    creator: Ref | None = None
    license: Ref | None = None
    datasets: list[Ref] = field(default_factory=list)
    citations: list[Ref] = field(default_factory=list)
    cite_as: list[Ref] = field(default_factory=list)
    sections: list[SectionRef] = field(default_factory=list)
    training: Ref | None = None
    training_datasets: list[Dataset] = field(default_factory=list)  # the training listing's items
    variant_datasets: list[Dataset | None] = field(default_factory=list)  # each quantisation variant's
    mitigations: dict[str, Ref] = field(default_factory=dict)
    risk_citation: Ref | None = None  # the citation of the risk matrix's basis
    front_matter: dict[str, Any] = field(default_factory=dict)
    produced: frozenset[str] = frozenset()  # the front-matter keys its typed fields produce
    templates: tuple[str, ...] = ()  # the template search path: own, organisation's, cardgen's
    slots: tuple[str, ...] = ()  # the sections its `card.md.j2` places, in order
    looked_up: set[str] = field(default_factory=set)  # files of shared entries used beyond the refs above
    missed: set[tuple[str, str]] = field(default_factory=set)  # (kind, id) names that resolved to no shared entry
    used: set[tuple[str, str, str]] = field(default_factory=set)  # (file, kind, id) of every shared entry it uses
    _inputs: tuple[FileView, frozenset[str]] | None = field(default=None, repr=False, compare=False)

    @property
    def owner(self) -> str:
        return self.repo_id.split("/")[0]

    @property
    def repo_name(self) -> str:
        return self.repo_id.split("/")[-1]

    @property
    def name(self) -> str:
        if self.member and self.member.name:
            return self.member.name
        return self.model.name or self.repo_name

    @property
    def library_name(self) -> str | None:
        """The library the front matter names: not one inherited by GGUF files, which the Hub detects itself."""
        from cardgen.schema import GGUF

        if isinstance(self.model.quantization, GGUF) and self.origin.get("library_name", self.src) is not self.src:
            return None
        return self.model.library_name

    @property
    def org(self) -> Org | None:
        return self.creator.value if self.creator else None

    def loc(self, fieldname: str, *rest: Any) -> Where:
        """Where a card field is written (in whichever source defines it)."""
        return self.origin.get(fieldname, self.src).pos((fieldname, *rest))

    def key_loc(self, fieldname: str, *rest: Any) -> Where:
        return self.origin.get(fieldname, self.src).key_pos((fieldname, *rest))

    def where(self) -> Where:
        """Where the repo id this card renders is written (a suite member's own entry)."""
        file, path = self.where_path()
        return self.src.pos(path)

    def where_path(self) -> tuple[str, tuple[Any, ...]]:
        """File and path of the repo id this card renders, without building node positions."""
        if self.member is None:
            path: tuple[Any, ...] = ("repo_id",)
        else:
            i = next((k for k, m in enumerate(self.members) if m is self.member), None)
            path = ("suite",) if i is None else ("suite", i, "repo_id")
        return self.src.doc_for(path).file, path

    def files(self) -> set[str]:
        """The source files this card's content comes from (its own and its bases'): every YAML file of
        each card folder (`card.yaml`, and `folder.yaml` or any other beside it), not its first alone."""
        return {d.file for s in (*self.origin.values(), self.src) for d in s.docs} | {self.src.file}

    def built_from(self) -> set[str]:
        """The source files whose errors stop this card: its own and its bases', and the shared files of the
        entries it uses (a `javascript:` link in the shared licence it names stops it as surely as one in
        its own file)."""
        refs = [self.creator, self.license, self.training, self.risk_citation, *self.datasets, *self.citations,
                *self.cite_as, *self.sections, *self.mitigations.values()]
        return self.files() | {r.src.file for r in refs if r is not None} | set(self.looked_up)

    def inputs(self, view: FileView) -> frozenset[str]:
        """Every file its README is built from, as absolute paths: its sources and its bases', the shared
        files its references come from, the files of its free sections, the templates on its search
        path, and the Hub vocabulary cardgen carries (as the run's ``view`` of the file system sees them).
        A file reached through a link is there twice: where it leads, and the path as written (so that
        a link pointed elsewhere is a change). What `--changed-since` and the dependency graph
        (``graph``) match changes against; the names that resolved to nothing are ``missed``. Taken once
        per view (a base's, for each card of its family that a run builds)."""
        if self._inputs is not None and self._inputs[0] is view:
            return self._inputs[1]
        files = self.built_from()
        files |= {os.path.join(s.src.folder, s.value.file) for s in self.sections if getattr(s.value, "file", None)}
        out = set(view.vocabulary_files())
        for f in files:
            out |= view.paths(f)
        for folder in self.templates:
            out |= view.templates_in(folder)
        found = frozenset(out | (self.base.inputs(view) if self.base is not None else frozenset()))
        self._inputs = (view, found)
        return found
