"""Resolve sources into cards: shared references, inheritance (`extends`), suites, and everything a
README is rendered from (see ``card.Card``).

The result is one ``Card`` per Hub repository, with every reference replaced by the entry it names
and, for each resolved value, the place (source, path) it was defined, so that later checks can
point at the right node. Problems go into the run's ``Collector``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cardgen.card import Card, Ref, SectionRef
from cardgen.diagnostics import Collector, Diagnostic, Where, error
from cardgen.entries import Dataset, License, Section, Training
from cardgen.files import display, read_text
from cardgen.hubspec import suggest
from cardgen.loading.scope import SHARED_DIR
from cardgen.loading.sources import Project, Source
from cardgen.schema import GGUF, NOT_INHERITED, CardSource, SuiteMember
from cardgen.sections import placed_slots, search_path


class Registry:
    """Shared entries by kind and id."""

    def __init__(self, shared: list[Source], report: Collector) -> None:
        self.entries: dict[str, dict[str, Ref]] = {}
        self.broken: set[tuple[str, str]] = set()  # entries the schema refused (reported there)
        for src in shared:
            self.broken |= src.broken
            if src.model is None:
                continue
            for kind in type(src.model).model_fields:
                for key, value in getattr(src.model, kind).items():
                    table = self.entries.setdefault(kind, {})
                    if key in table:
                        first = table[key]
                        report.error(src.key_pos((kind, key)), "CG305", f"{kind} id {key!r} is already defined in "
                                     f"{first.src.file}:{first.src.key_pos((kind, key)).line}")
                        continue
                    table[key] = Ref(value, src, (kind, key))

    def get(self, kind: str, key: str) -> Ref | None:
        return self.entries.get(kind, {}).get(key)

    def ids(self, kind: str) -> list[str]:
        return list(self.entries.get(kind, {}))


class Resolver:
    def __init__(self, project: Project, report: Collector) -> None:
        self.project = project
        self.report = report
        self.registry = Registry(project.shared, report)
        self.by_repo: dict[str, tuple[Source, SuiteMember | None]] = {}
        self.cards: dict[str, Card] = {}  # repo id -> its card (``by_repo`` names one source per repo)
        self._stack: list[str] = []
        self._slots: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._folders: dict[Path, bool] = {}  # template folders judged (there, and inside the cards folder)
        for src in project.cards:
            if src.model is None:
                continue
            for repo, member, path in targets(src):
                if repo in self.by_repo:
                    report.add(described_twice(repo, src.pos(path), self.by_repo[repo][0].file))
                    continue
                self.by_repo[repo] = (src, member)

    # -- references -------------------------------------------------------------------------
    def ref(self, kind: str, value: Any, src: Source, path: tuple[Any, ...], plain: type | None = None,
            card: Card | None = None) -> Ref | None:
        """Resolve a `str | Model` value. Strings name shared entries; with ``plain``, an unknown
        string is taken as the plain value (a Hub id) rather than a dangling reference. A name that
        resolves to no entry is noted on ``card`` (``Card.missed``): an entry added later changes it."""
        if not isinstance(value, str):
            return Ref(value, src, path)
        hit = self.registry.get(kind, value)
        if hit:
            if card is not None:
                card.used.add((hit.src.file, kind, value))
            return hit
        if card is not None:
            card.missed.add((kind, value))
        if (kind, value) in self.registry.broken:  # exists, but refused: the card cannot be rendered with it
            self.report.error(src.pos(path), "CG301", f"{kind} entry {value!r} in {SHARED_DIR}/ has errors "
                                                      "(reported there); this card cannot use it until they are fixed")
            return None
        if plain is not None:
            return Ref(plain(id=value), src, path)
        self.report.error(src.pos(path), "CG301", f"{kind} reference {value!r} is not defined in "
                                                  f"{SHARED_DIR}/{suggest(value, self.registry.ids(kind))}")
        return None

    def dataset(self, value: str | Dataset, card: Card) -> Dataset:
        """A dataset named by shared id, by Hub id, or written inline; what was looked up is noted on the
        card (the file of an entry found, ``Card.looked_up``; a name found in none, ``Card.missed``)."""
        if isinstance(value, Dataset):
            return value
        hit = self.registry.get("datasets", value)
        if hit is None:
            card.missed.add(("datasets", value))
            return Dataset(id=value)
        card.looked_up.add(hit.src.file)
        card.used.add((hit.src.file, "datasets", value))
        return hit.value

    # -- cards ------------------------------------------------------------------------------
    def all_cards(self) -> list[Card]:
        out = []
        for src in self.project.cards:
            if src.model is None:
                continue
            for repo, _, _ in targets(src):
                if self.by_repo.get(repo, (None,))[0] is src:
                    c = self.card(repo)
                    if c:
                        out.append(c)
        return out

    def card(self, repo: str, want_from: tuple[Source, tuple[Any, ...]] | None = None) -> Card | None:
        if repo not in self.by_repo:
            if want_from:
                src, path = want_from
                self.report.error(src.pos(path), "CG302", f"no card in {display(self.project.root)} describes "
                                                          f"{repo!r}{suggest(repo, self.by_repo)}")
            return None
        src, member = self.by_repo[repo]
        if repo in self.cards:
            return self.cards[repo]
        if repo in self._stack:
            chain = " -> ".join(self._stack[self._stack.index(repo):] + [repo])
            self.report.error(src.pos(("extends",)), "CG303", f"inheritance cycle: {chain}")
            return None
        self._stack.append(repo)
        try:
            card = self._build(repo, src, member)
        finally:
            self._stack.pop()
        if card:
            self.cards[repo] = card
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
        card.templates, problems = search_path(src.folder, merged.templates, self.project.root, self._folders)
        for problem in problems:
            self.report.error(card.loc("templates") if merged.templates else card.where(), "CG304", problem)
        if card.templates not in self._slots:
            self._slots[card.templates] = placed_slots(card.templates)[0]
        card.slots = self._slots[card.templates]
        from cardgen.frontmatter import merge, typed

        produced = typed(card)
        card.produced = frozenset(produced)
        card.front_matter = merge(card, produced)
        return card

    def _resolve_refs(self, card: Card) -> None:
        m = card.model

        def src_of(name: str) -> Source:
            return card.origin.get(name, card.src)

        def ref(kind: str, value: Any, name: str, path: tuple[Any, ...], plain: type | None = None) -> Ref | None:
            return self.ref(kind, value, src_of(name), path, plain, card)

        if m.creator is not None:
            card.creator = ref("orgs", m.creator, "creator", ("creator",))
        if m.license is not None:
            card.license = ref("licenses", m.license, "license", ("license",), plain=License)
        for i, d in enumerate(m.datasets or []):
            if r := ref("datasets", d, "datasets", ("datasets", i), plain=Dataset):
                card.datasets.append(r)
        for i, c in enumerate(m.cite_as or []):
            if r := ref("citations", c, "cite_as", ("cite_as", i)):
                card.cite_as.append(r)
        for i, c in enumerate(m.citations or []):
            if r := ref("citations", c, "citations", ("citations", i)):
                card.citations.append(r)
        for i, s in enumerate(m.sections or []):
            if r := ref("sections", s, "sections", ("sections", i)):
                text = self.section_text(r)
                if text is not None:
                    card.sections.append(SectionRef(r.value, r.src, r.path, text))
        if m.training is not None:
            card.training = ref("trainings", m.training, "training", ("training",))
        self._listed_datasets(card)
        card.mitigations = dict(self.registry.entries.get("mitigations", {}))
        card.used |= {(r.src.file, "mitigations", k) for k, r in card.mitigations.items()}
        ra = m.risk_assessment
        if ra:
            rsrc = src_of("risk_assessment")
            for k, v in ra.mitigations.items():
                card.mitigations[k] = Ref(v, rsrc, ("risk_assessment", "mitigations", k))
            if ra.basis and ra.basis.citation is not None:
                card.risk_citation = ref("citations", ra.basis.citation, "risk_assessment",
                                         ("risk_assessment", "basis", "citation"))
            # a risk names its mitigations by id: one the catalogue lacks may be added to it later
            card.missed |= {("mitigations", mid) for r in ra.risks for mid in r.mitigations
                            if mid not in card.mitigations}

    def _listed_datasets(self, card: Card) -> None:
        """The datasets of the training listing and of the quantisation variants."""
        if card.training and isinstance(card.training.value, Training) and card.training.value.datasets:
            t = card.training
            for i, d in enumerate(t.value.datasets.items):
                self.ref("datasets", d, t.src, (*t.path, "datasets", "items", i), plain=Dataset, card=card)
                card.training_datasets.append(self.dataset(d, card))
        q = card.model.quantization
        if q is not None and not isinstance(q, GGUF):
            card.variant_datasets = [self.dataset(v.dataset, card) if v.dataset is not None else None
                                     for v in q.variants]

    def section_text(self, ref: Ref) -> str | None:
        """The markdown of a free section: its body, or the file it names (which must stay in cards/)."""
        s: Section = ref.value
        if s.file is None:
            return s.body or ""
        root = self.project.root
        target = (ref.src.folder / s.file).resolve()
        if root.resolve() not in target.parents:
            self.report.error(ref.pos("file"), "CG304", f"section file {s.file!r} escapes {display(root)}")
            return None
        text, diags = read_text(target, display(target))
        if text is None:
            self.report.error(ref.pos("file"), "CG301", f"section file {s.file!r}: {diags[0].message}")
        return text


def described_twice(repo: str, where: Where, first_file: str) -> Diagnostic:
    """CG307: a second source names a repository that an earlier one already describes."""
    return error(where, "CG307", f"{repo} is already described by {first_file}")


def targets(src: Source) -> Iterator[tuple[str, SuiteMember | None, tuple[Any, ...]]]:
    """The repositories a card source describes: (repo id, suite member, path of the repo id)."""
    m: CardSource = src.model
    if m.suite:
        for i, member in enumerate(m.suite):
            yield member.repo_id, member, ("suite", i, "repo_id")
    elif m.repo_id:
        yield m.repo_id, None, ("repo_id",)
