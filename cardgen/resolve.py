"""Resolve sources into cards: shared references, inheritance (`extends`) and suites.

The result is one ``Card`` per Hub repository, with every reference replaced by the entry it names
and, for each resolved value, the place (source, path) it was defined, so that later checks can
point at the right node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, error
from .hubspec import suggest
from .model import (NOT_INHERITED, CardSource, Citation, Dataset, License, Org, Section, SuiteMember,
                    Training)
from .sources import SHARED_DIR, Project, Source, display

Loc = tuple[Source, tuple]  # where a value is written: its source and path


@dataclass
class Ref:
    """A resolved entry and where it is written."""

    value: Any
    src: Source
    path: tuple


@dataclass
class Card:
    repo_id: str
    src: Source
    model: CardSource
    origin: dict[str, Source]
    member: SuiteMember | None = None
    members: list[SuiteMember] = field(default_factory=list)
    base: "Card | None" = None
    creator: Ref | None = None
    license: Ref | None = None
    datasets: list[Ref] = field(default_factory=list)
    citations: list[Ref] = field(default_factory=list)
    cite_as: list[Ref] = field(default_factory=list)
    sections: list[Ref] = field(default_factory=list)
    training: Ref | None = None
    mitigations: dict[str, Ref] = field(default_factory=dict)

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

    def loc(self, fieldname: str, *rest) -> tuple[str, tuple[int, int]]:
        """file and position of a card field (in whichever source defines it)."""
        src = self.origin.get(fieldname, self.src)
        return src.pos((fieldname, *rest))

    def where(self) -> tuple[str, tuple[int, int]]:
        """File and position of the repo id this card renders (a suite member's own entry)."""
        file, path = self.where_path()
        return file, self.src.doc_for(path).pos(path)

    def where_path(self) -> tuple[str, tuple]:
        """File and path of the repo id this card renders, without building node positions."""
        if self.member is None:
            path: tuple = ("repo_id",)
        else:
            i = next((k for k, m in enumerate(self.members) if m is self.member), None)
            path = ("suite",) if i is None else ("suite", i, "repo_id")
        return self.src.doc_for(path).file, path

    def key_loc(self, fieldname: str, *rest) -> tuple[str, tuple[int, int]]:
        src = self.origin.get(fieldname, self.src)
        return src.key_pos((fieldname, *rest))


class Registry:
    """Shared entries by kind and id."""

    def __init__(self, shared: list[Source], diags: list[Diagnostic]):
        self.entries: dict[str, dict[str, Ref]] = {}
        for src in shared:
            if src.model is None:
                continue
            for kind in type(src.model).model_fields:
                for key, value in getattr(src.model, kind).items():
                    table = self.entries.setdefault(kind, {})
                    if key in table:
                        first = table[key]
                        f, p = src.key_pos((kind, key))
                        diags.append(error(f, p, "CG305", f"{kind} id {key!r} is already defined in "
                                                          f"{first.src.file}:{first.src.key_pos((kind, key))[1][0]}"))
                        continue
                    table[key] = Ref(value, src, (kind, key))

    def get(self, kind: str, key: str) -> Ref | None:
        return self.entries.get(kind, {}).get(key)

    def ids(self, kind: str) -> list[str]:
        return list(self.entries.get(kind, {}))


class Resolver:
    def __init__(self, project: Project):
        self.project = project
        self.diags: list[Diagnostic] = []
        self.registry = Registry(project.shared, self.diags)
        self.by_repo: dict[str, tuple[Source, SuiteMember | None]] = {}
        self.cards: dict[tuple[int, str], Card] = {}
        self._stack: list[str] = []
        for src in project.cards:
            if src.model is None:
                continue
            for repo, member, path in _targets(src):
                if repo in self.by_repo:
                    self.diags.append(described_twice(repo, src.pos(path), self.by_repo[repo][0].file))
                    continue
                self.by_repo[repo] = (src, member)

    # -- references -------------------------------------------------------------------------
    def ref(self, kind: str, value: Any, src: Source, path: tuple, plain: type | None = None) -> Ref | None:
        """Resolve a `str | Model` value. Strings name shared entries; with ``plain``, an unknown
        string is taken as the plain value (a Hub id) rather than a dangling reference."""
        if not isinstance(value, str):
            return Ref(value, src, path)
        hit = self.registry.get(kind, value)
        if hit:
            return hit
        if plain is not None:
            return Ref(plain(id=value), src, path)
        f, p = src.pos(path)
        known = self.registry.ids(kind)
        self.diags.append(error(f, p, "CG301", f"{kind} reference {value!r} is not defined in "
                                               f"{SHARED_DIR}/{suggest(value, known)}"))
        return None

    # -- cards ------------------------------------------------------------------------------
    def all_cards(self) -> list[Card]:
        out = []
        for src in self.project.cards:
            if src.model is None:
                continue
            for repo, member, _ in _targets(src):
                if self.by_repo.get(repo, (None,))[0] is src:
                    c = self.card(repo)
                    if c:
                        out.append(c)
        return out

    def card(self, repo: str, want_from: tuple[Source, tuple] | None = None) -> Card | None:
        if repo not in self.by_repo:
            if want_from:
                src, path = want_from
                f, p = src.pos(path)
                self.diags.append(error(f, p, "CG302", f"no card in {display(self.project.root)} describes "
                                                       f"{repo!r}{suggest(repo, self.by_repo)}"))
            return None
        src, member = self.by_repo[repo]
        key = (id(src), repo)
        if key in self.cards:
            return self.cards[key]
        if repo in self._stack:
            f, p = src.pos(("extends",))
            chain = " -> ".join(self._stack[self._stack.index(repo):] + [repo])
            self.diags.append(error(f, p, "CG303", f"inheritance cycle: {chain}"))
            return None
        self._stack.append(repo)
        try:
            card = self._build(repo, src, member)
        finally:
            self._stack.pop()
        if card:
            self.cards[key] = card
        return card

    def _build(self, repo: str, src: Source, member: SuiteMember | None) -> Card | None:
        m: CardSource = src.model
        values = {k: getattr(m, k) for k in m.model_fields_set}
        origin = {k: src for k in m.model_fields_set}
        base = None
        if m.extends:
            base = self.card(m.extends, want_from=(src, ("extends",)))
            if base is None:
                return None
            for k in base.model.model_fields_set - set(values) - NOT_INHERITED:
                values[k] = getattr(base.model, k)
                origin[k] = base.origin.get(k, base.src)
        # a card that extends nothing is its own source model (models are never changed after loading)
        merged = m if base is None else CardSource.model_construct(_fields_set=set(values), **values)
        card = Card(repo, src, merged, origin, member=member, members=list(m.suite or []), base=base)
        self._resolve_refs(card)
        return card

    def _resolve_refs(self, card: Card) -> None:
        m = card.model

        def src_of(name):
            return card.origin.get(name, card.src)

        if m.creator is not None:
            card.creator = self.ref("orgs", m.creator, src_of("creator"), ("creator",))
        if m.license is not None:
            card.license = self.ref("licenses", m.license, src_of("license"), ("license",), plain=License)
        for i, d in enumerate(m.datasets or []):
            r = self.ref("datasets", d, src_of("datasets"), ("datasets", i), plain=Dataset)
            if r:
                card.datasets.append(r)
        for name in ("cite_as", "citations"):
            for i, c in enumerate(getattr(m, name) or []):
                r = self.ref("citations", c, src_of(name), (name, i))
                if r:
                    getattr(card, name).append(r)
        for i, s in enumerate(m.sections or []):
            r = self.ref("sections", s, src_of("sections"), ("sections", i))
            if r:
                card.sections.append(r)
        if m.training is not None:
            card.training = self.ref("trainings", m.training, src_of("training"), ("training",))
        if card.training and isinstance(card.training.value, Training) and card.training.value.datasets:
            t = card.training
            for i, d in enumerate(t.value.datasets.items):
                self.ref("datasets", d, t.src, (*t.path, "datasets", "items", i), plain=Dataset)
        card.mitigations = dict(self.registry.entries.get("mitigations", {}))
        ra = m.risk_assessment
        if ra:
            rsrc = src_of("risk_assessment")
            for k, v in ra.mitigations.items():
                card.mitigations[k] = Ref(v, rsrc, ("risk_assessment", "mitigations", k))


def described_twice(repo: str, where: tuple[str, tuple[int, int]], first_file: str) -> Diagnostic:
    """CG307: a second source names a repository that an earlier one already describes."""
    return error(*where, "CG307", f"{repo} is already described by {first_file}")


def _targets(src: Source):
    m: CardSource = src.model
    if m.suite:
        for i, member in enumerate(m.suite):
            yield member.repo_id, member, ("suite", i, "repo_id")
    elif m.repo_id:
        yield m.repo_id, None, ("repo_id",)


def resolve(project: Project) -> tuple[list[Card], Resolver]:
    r = Resolver(project)
    cards = r.all_cards()
    return cards, r


def section_text(ref: Ref, root: Path) -> tuple[str | None, Diagnostic | None]:
    """The markdown of a free section: its body, or the file it names (which must stay in cards/)."""
    s: Section = ref.value
    if s.file is None:
        return s.body or "", None
    f, p = ref.src.pos((*ref.path, "file"))
    target = (ref.src.folder / s.file).resolve()
    if root.resolve() not in target.parents:
        return None, error(f, p, "CG304", f"section file {s.file!r} escapes {display(root)}")
    from .loader import read_text

    text, diags = read_text(target, display(target))
    if text is None:
        d = diags[0]
        return None, error(f, p, "CG301", f"section file {s.file!r}: {d.message}")
    return text, None


def citation_list(card: Card) -> list[Citation]:
    return [r.value for r in card.citations]


def org(card: Card) -> Org | None:
    return card.creator.value if card.creator else None
