"""The incremental run of validate, render and check: each scope goes through its dependency graph
(``graph``).

Only the card folders whose inputs changed since the last run are loaded, checked, rendered and
linted, shard by shard, in forked workers when there are many (``parallel``); the others are replayed
from their records. What needs every card (a repository described twice, the shared catalogues) is
judged in the parent over all the records. The texts stay in the graph's store (``Rendering.texts``
reads them when asked for); no card is kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen.cache import RunCache
from cardgen.diagnostics import Collector, Diagnostic
from cardgen.loading.scope import SHARED_DIR, Scope, Selection, yaml_files, yaml_names
from cardgen.parallel import PARALLEL_FROM, default_jobs, map_items, worth_forking
from cardgen.pipeline.graph import DIR, Hasher, Store, Texts, environment, sha, split_inputs
from cardgen.pipeline.records import Memo, Record, Rendered, Target
from cardgen.pipeline.run import Rendering, render_one
from cardgen.policy import Policy

if TYPE_CHECKING:
    from cardgen.card import Card
    from cardgen.loading.sources import Project
    from cardgen.rules.registry import RiskFacts

# Loading, checking, rendering and linting are imported where they are used: a run whose cards are all
# fresh in the dependency graph needs none of them, and starts in a fraction of the time.

#: at most this many card folders in one worker's batch: what a batch loads is held until it is done
SHARD_MAX = 256


def render_incremental(selection: Selection, jobs: int | None = None, policy: Policy | None = None,
                       changed: frozenset[str] | None = None, readmes: Path | None = None) -> Rendering:
    """Validate and render through the dependency graph; cards with errors are not rendered.

    Only the folders whose inputs changed since the last run are loaded, checked and rendered; the
    texts stay in the graph's store and ``Rendering.cards`` stays empty. With ``changed``, only the
    cards built from those files (or whose committed README is among them) are reported. ``readmes``
    is the folder of the committed READMEs the texts will be compared with.
    """
    from cardgen.card import forget_files

    out = Rendering(texts=Texts())
    report = Collector()
    cache = RunCache()
    forget_files()
    for scope in selection.scopes:
        _render_graph(scope, jobs, out, report, cache, policy or Policy(), changed, readmes)
    out.diagnostics = (policy or Policy()).apply(report.diagnostics)
    return out


@dataclass
class _Shard:
    """What rendering some card folders gave: a record per folder (see ``graph``) and the cards that
    carry risk assessments (for the catalogue rules, which need every card)."""

    records: dict[str, Record]  # folder -> record
    sets: dict[str, list[str]]  # common input sets the records name
    risk_facts: list[RiskFacts]


def _render_shard(folders: list[Path], root: Path, shared: list[Any], cache: RunCache, policy: Policy,
                  store: Store | None = None, render: bool = True) -> _Shard:
    """Load, check, render and lint the cards of some folders (in a worker process), as
    ``validate_scope`` and ``render_all`` do in one: the same policy decides what stops a card. The
    texts go to the store; a record per folder comes back."""
    from cardgen.loading.sources import Project, load_card
    from cardgen.pipeline.validate import check_project, load_missing_bases
    from cardgen.resolve import targets
    from cardgen.rules.registry import risk_facts

    project = Project(root, shared=list(shared))
    for folder in folders:
        src, d = load_card(folder, root)
        project.diagnostics += d
        if src.docs:
            project.cards.append(src)
    mine = set(folders)
    load_missing_bases(project)  # cards they extend, from other shards: resolved here, rendered there
    report = Collector()
    cards = check_project(project, report, catalogue=False, policy=policy)
    facts = [rf for c in cards if c.src.folder in mine and (rf := risk_facts(c))]
    if not render:
        return _Shard({}, {}, facts)
    diags = policy.apply(report.diagnostics)
    bad_files = Collector(diags).files_with_errors()
    by_folder: dict[Path, list[Card]] = {f: [] for f in folders}
    for card in cards:
        if card.src.folder in mine:
            by_folder[card.src.folder].append(card)
    hasher = Hasher()
    texts: list[tuple[str, str, str]] = []
    records: dict[str, Record] = {}
    sets: dict[str, list[str]] = {}
    names = {f: yaml_names(f) for f in folders}
    inputs = {f: set().union(*(c.inputs() | template_folders(c) for c in cs))
              | {os.path.realpath(f / n) for n in names[f]} for f, cs in by_folder.items()}
    claims: dict[str, list[str]] = {}  # diagnostic file -> folders whose cards were built from it
    for f, ins in inputs.items():
        for i in ins:
            claims.setdefault(i, []).append(str(f))
    prefixes = [(str(f) + os.sep, str(f)) for f in folders]
    assigned: dict[str, list[Diagnostic]] = {str(f): [] for f in folders}
    for diag in diags:
        owners = claims.get(diag.file) or [f for pre, f in prefixes if diag.file.startswith(pre)] or list(assigned)
        for o in owners:
            assigned[o].append(diag)
    sources = {s.folder: s for s in project.cards if s.folder in mine}
    for f, cs in by_folder.items():
        rendered: list[Rendered] = []
        for card in cs:
            files = card.files()
            text, rdiags = (None, []) if files & bad_files else render_one(card, cache)
            digest = None if text is None else sha(text)
            if text is not None and digest is not None:
                texts.append((digest, str(f), text))
            rendered.append(Rendered(card.repo_id, digest, rdiags, sorted(files), card.where_path()))
        own, common = split_inputs(f, inputs[f])
        set_id = sha("\n".join(common))
        sets[set_id] = common
        mine_diags = assigned[str(f)]
        own_src = sources.get(f)
        records[str(f)] = Record(
            files=names[f], own=own, set_id=set_id,
            digest=hasher.digest(own, set_id, sets),
            diags=mine_diags,
            errors=any(d.severity == "error" for d in mine_diags) or any(r.digest is None for r in rendered),
            rendered=rendered,
            targets=[Target(repo, own_src.doc_for(path).file, path) for repo, _, path in targets(own_src)]
            if own_src is not None and own_src.model else [],
            risk=any(c.model.risk_assessment for c in cs),
        )
    if store is not None and texts:
        store.put_texts(texts)
    return _Shard(records, sets, facts)


def template_folders(card: Card) -> set[str]:
    """The folders whose templates a card's README may use, there or not yet (``graph.DIR`` inputs): its
    own `templates` folder, its organisation's `_templates`, each on its search path, and its bases'."""
    folder = card.src.folder
    out = {DIR + os.path.realpath(t) for t in card.templates}
    out |= {DIR + os.path.realpath(folder / "templates"), DIR + os.path.realpath(folder.parent / "_templates")}
    return out | (template_folders(card.base) if card.base is not None else set())


def _fresh(record: Record | None, folder: Path, hasher: Hasher, sets: dict[str, list[str]]) -> bool:
    """Whether a folder's record still holds: same source files, every input hashing the same, and no
    error (an error may be mended by a card added anywhere, e.g. the base it names)."""
    return (record is not None and not record.errors
            and record.files == yaml_names(folder)
            and record.set_id in sets and hasher.digest(record.own, record.set_id, sets) == record.digest)


def _render_graph(scope: Scope, jobs: int | None, out: Rendering, report: Collector, cache: RunCache,
                  policy: Policy, changed: frozenset[str] | None, readmes: Path | None) -> None:
    """Render a scope through its dependency graph (``graph``): folders whose inputs hash as in the
    last run are replayed from their records, the others are rendered again (in forked workers when
    there are many), and what needs every card (a repo described twice, the shared catalogues) is
    judged over all the records. With ``readmes`` (the output folder), a replayed README whose
    committed copy differs is read back from the store, or rendered again when it cannot be."""
    store = Store(scope.root, environment(policy, scope.root))
    records, sets = store.records(), store.sets()
    hasher = Hasher()
    folders, escapes = scope.walk()
    stale: list[Path] = []
    fresh: dict[str, Record] = {}
    for f in folders:
        rec = records.get(str(f))
        if rec is not None and _fresh(rec, f, hasher, sets) and _readable(rec, readmes, store, out):
            fresh[str(f)] = rec
        else:
            stale.append(f)
    shared_files = [str(p.resolve()) for p in yaml_files(scope.root / SHARED_DIR)]
    shared_digest = sha("\n".join(f"{p}\0{hasher.file(p)}" for p in shared_files))
    known_shared = store.memo("shared")
    base: Project | None = None
    if stale or known_shared is None or known_shared.key != shared_digest:
        from cardgen.loading.sources import load_shared

        base = load_shared(scope.root)
        shared_diags = base.diagnostics
    else:
        shared_diags = known_shared.diags
    mine = Collector(shared_diags)
    if escapes:
        from cardgen.loading.sources import outside_link

        mine.extend(outside_link(link, scope.root) for link in escapes)  # as load_project does
    computed: dict[str, Record] = {}
    facts: list[RiskFacts] = []
    facts_from: set[str] = set()  # the folders those facts came from
    if stale:
        assert base is not None
        # judged once, before any worker of this run adds to the load, and only for work worth forking for
        jobs = jobs or (default_jobs() if len(stale) >= PARALLEL_FROM else 1)
        work = partial(_render_shard, root=scope.root, shared=base.shared, cache=cache, policy=policy, store=store)
        if worth_forking(len(stale), jobs):
            # The first card is rendered here, before the fork: the workers inherit the compiled templates
            # and the lint of the parts every card shares instead of each building them again.
            results = [work(stale[:1])]
            rest = stale[1:]
            n = max(1, min(len(rest), jobs * 4), -(-len(rest) // SHARD_MAX))
            size = -(-len(rest) // n)
            results += map_items(work, [rest[i:i + size] for i in range(0, len(rest), size)], jobs, min_items=1,
                                 batches=True)
        else:  # in this process, a batch at a time: what a batch loads is let go before the next
            results = [work(stale[i:i + SHARD_MAX]) for i in range(0, len(stale), SHARD_MAX)]
        for shard in results:
            computed.update(shard.records)
            sets.update(shard.sets)
            facts += shard.risk_facts
            facts_from.update(k for k, rec in shard.records.items() if rec.risk)
    every = {**fresh, **computed}
    out.folders += len(folders)
    out.rebuilt += len(computed)
    ordered = [(str(f), every[str(f)]) for f in folders if str(f) in every]
    # what a single resolver sees across all folders: a repo described twice, the catalogue against every card
    first: dict[str, str] = {}
    bad_files: set[str] = set()
    again: set[tuple[str, str]] = set()  # (repo id, file) of a second description: not a card at all
    for _, rec in ordered:
        mine.extend(rec.diags)
        for repo, file, path in ((t.repo, t.file, t.path) for t in rec.targets):
            if repo not in first:
                first[repo] = file
            elif first[repo] != file:
                from cardgen.loading.sources import locate
                from cardgen.resolve import described_twice

                mine.add(described_twice(repo, locate(file, path), first[repo]))
                bad_files.add(file)
                again.add((repo, file))
    if again:  # a second description is no card for one resolver: what was checked of it as one goes
        mine = Collector(d for d in mine.diagnostics
                         if not (d.code == "CG217" and any(d.file == f for _, f in again)))
    risky = sorted((key, rec.digest) for key, rec in ordered if rec.risk)
    project_key = sha("\n".join([shared_digest, *(f"{k}\0{d}" for k, d in risky)]))
    known_project = store.memo("project")
    if known_project is not None and known_project.key == project_key:
        project_diags = known_project.diags
    else:
        if base is None:
            from cardgen.loading.sources import load_shared

            base = load_shared(scope.root)
        todo = [Path(k) for k, _ in risky if k not in facts_from]
        for i in range(0, len(todo), SHARD_MAX):
            batch = todo[i:i + SHARD_MAX]
            facts += _render_shard(batch, scope.root, base.shared, cache, policy, render=False).risk_facts
        from cardgen.resolve import Registry
        from cardgen.rules import run as rules

        project_diags = rules.check_project(Registry(base.shared, Collector()), facts)
    mine.extend(project_diags)
    for _, rec in ordered:
        for r in rec.rendered:
            if (r.repo, r.where[0]) in again:
                continue
            if not (changed is None or f"repo:{r.repo}" in changed
                    or any(p in changed for p in rec.own) or any(p in changed for p in sets[rec.set_id])):
                out.unaffected += 1
                continue
            mine.extend(r.diags)
            if r.digest is None or bad_files.intersection(r.files):
                out.failed.append(r.repo)
            else:
                assert isinstance(out.texts, Texts)
                out.texts.add(r.repo, r.digest, store)
                out.where[r.repo] = r.where
    if not scope.whole:
        mine.keep(scope.keeps)
    report.extend(mine.diagnostics)
    gone = [k for k in records if k not in every and scope.keeps(k)] if scope.whole else []
    used = {rec.set_id for rec in every.values()}
    store.save(computed, {i: p for i, p in sets.items() if i in used}, gone,
               {"shared": Memo(shared_digest, shared_diags), "project": Memo(project_key, project_diags)})


def _readable(rec: Record, readmes: Path | None, store: Store, out: Rendering) -> bool:
    """Whether the READMEs of a fresh record can be compared with the committed ones: a committed README
    equal to the record's text needs nothing more; one that differs needs the text from the store."""
    if readmes is None:
        return True
    for r in rec.rendered:
        if r.digest is None:
            continue
        try:
            with open(os.path.join(readmes, r.repo, "README.md"), "rb") as f:
                old = f.read()
        except OSError:
            old = None
        if old is not None and sha(old) == r.digest:
            out.same.add(r.repo)
        elif store.text(r.digest) is None:
            return False
    return True
