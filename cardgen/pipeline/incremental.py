"""The incremental run of validate, render and check: each scope goes through its dependency graph
(``graph``).

Only the card folders whose inputs changed since the last run are loaded, checked, rendered and
linted, shard by shard, in forked workers when there are many (``parallel``); the others are replayed
from their records (``records``). What needs every card (a repository described twice, the shared
catalogues) is judged in the parent over all the records. The texts stay in the graph's store
(``Rendering.texts`` reads them when asked for); no card is kept.

A scope's run is a sequence of steps, each a function below: sort the folders into fresh and stale
(``_sort_folders``); load the shared sources when something needs them (``_shared_sources``);
rebuild the stale folders (``_rebuild``: ``render_shard`` per batch, forked or in this process);
the checks over all the records (``gate.described_twice``); the catalogue, from its stored key or
recomputed (``_catalogue``); replay the READMEs into the ``Rendering`` (``_replay``); save (``_save``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen import files as read_log
from cardgen.cache import RunCache
from cardgen.diagnostics import Collector, Diagnostic
from cardgen.loading import scope as walked
from cardgen.loading.scope import SHARED_DIR, Scope, Selection, yaml_files, yaml_names
from cardgen.parallel import PARALLEL_FROM, default_jobs, map_items, worth_forking
from cardgen.pipeline.gate import Twice, described_twice, nothing_rendered, unbuilt
from cardgen.pipeline.graph import (
    ABSENT,
    Hasher,
    entry_hashes,
    environment,
    sha,
    shared_ids,
    touches,
)
from cardgen.pipeline.index import Head, Index
from cardgen.pipeline.index import values as index_values
from cardgen.pipeline.records import Memo, Record, Rendered
from cardgen.pipeline.run import Rendering
from cardgen.pipeline.shard import Shard, render_shard
from cardgen.pipeline.stats import Stats
from cardgen.pipeline.store import Store, Texts
from cardgen.policy import Policy

if TYPE_CHECKING:
    from cardgen.loading.sources import Project

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
    out = Rendering(texts=Texts())
    report = Collector()
    cache = RunCache()
    read_log.READS = {}  # the hash of each file as the build reads it (``graph.Hasher``)
    try:
        for scope in selection.scopes:
            _render_graph(scope, jobs, out, report, cache, policy or Policy(), changed, readmes)
    finally:
        read_log.READS = None
    out.diagnostics = (policy or Policy()).apply(report.diagnostics)
    return out


# -- one scope through its graph ------------------------------------------------------------------

#: what stands for a folder's record in a run: the record, or its line of the scope's index
Built = Record | Head


@dataclass
class _Graph:
    """A scope's dependency graph as this run finds it: its store, the records and common input sets
    the store holds (this run's sets are added as they are made), this run's file hashes, and the scope's
    index (``index``) when a whole run can use it: then only the records of the folders it does not vouch
    for are read."""

    store: Store
    records: dict[str, Record]  # folder -> its record in the store
    sets: dict[str, list[str]]  # id -> paths
    hasher: Hasher
    index: Index | None
    sigs: dict[str, str] = field(default_factory=dict)  # what tells the next run an input is unchanged
    # (repo, text digest) of each README of a fresh record whose committed copy is that text (``_readable``):
    # marked as such (``Rendering.same``) only when that record's text is the one replayed (``_replay``; a
    # second description of a repository is not)
    matched: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def open(cls, scope: Scope, policy: Policy, folders: list[Path]) -> _Graph:
        """The graph of a scope; a run over some folders reads only their records, a whole run with an
        index only those of the folders the index does not vouch for (``_sort_folders``)."""
        store = Store(scope.root, environment(policy, scope.root))
        index = Index.parse(str(scope.root), store.blobs("index")) if scope.whole and not walked.LINKED else None
        records = {} if index is not None else store.records(None if scope.whole else [str(f) for f in folders])
        return cls(store, records, store.sets(), Hasher(stats=Stats(store.stats())), index)


@dataclass(frozen=True)
class _Shared:
    """A scope's shared sources (`_shared`): their hash and what loading them found, and the loaded
    sources when this run needed them (None: replayed from the store)."""

    memo: Memo  # key: the hash of the shared files
    project: Project | None
    ids: list[str]  # `KIND/ID` of every entry they define (``graph.shared_ids``: one in two files twice)
    entries: dict[str, str]  # the hash of each entry, by its input name (``graph.entry_hashes``)

    @property
    def errors(self) -> bool:
        """Whether they have errors, or an id defined twice (which entry a card gets then depends on all
        of them; the resolver reports it)."""
        return any(d.severity == "error" for d in self.memo.diags) or len(set(self.ids)) != len(self.ids)


def _render_graph(scope: Scope, jobs: int | None, out: Rendering, report: Collector, cache: RunCache,
                  policy: Policy, changed: frozenset[str] | None, readmes: Path | None) -> None:
    """Render a scope through its dependency graph (``graph``): folders whose inputs hash as in the
    last run are replayed from their records, the others are rendered again (in forked workers when
    there are many), and what needs every card (a repo described twice, the shared catalogues) is
    judged over all the records. With ``readmes`` (the output folder), a replayed README whose
    committed copy differs is read back from the store, or rendered again when it cannot be."""
    folders, escapes = scope.walk()
    graph = _Graph.open(scope, policy, folders)
    shared = _shared_sources(scope.root, graph)
    graph.hasher.defined = frozenset(shared.ids)
    graph.hasher.entries = shared.entries
    reached = _reacher(changed, graph, str(scope.root / SHARED_DIR))
    # while the shared sources have errors (a duplicated id names whichever entry comes first), no record holds
    fresh, stale = ({}, folders) if shared.errors else _sort_folders(folders, graph, readmes, out, shared.memo.key,
                                                                     lambda rec: _wanted(rec, changed, reached))
    if stale and shared.project is None:
        shared = _Shared(shared.memo, _load_shared(scope.root), shared.ids, shared.entries)
    built = _rebuild(stale, scope.root, shared, jobs, cache, policy, graph) if stale else Shard()
    graph.sets.update(built.sets)
    graph.store.keep_texts(built.texts)
    if built.problem:  # a worker could not store its texts: nothing of this run is saved either
        graph.store.problem, graph.store.usable = graph.store.problem or built.problem, False
    every: dict[str, Built] = {**fresh, **built.records}
    out.folders += len(folders)
    out.rebuilt += len(built.records)
    ordered: list[tuple[str, Built]] = [(str(f), every[str(f)]) for f in folders if str(f) in every]
    twice = described_twice(ordered)
    # what loading and checking found, in the shared sources and in every folder
    found = twice.not_cards([*shared.memo.diags, *_links_out(escapes, scope.root),
                             *(d for _, rec in ordered for d in rec.diags), *twice.diags])
    catalogue = _catalogue(ordered, shared, scope, graph, twice)
    replayed, failed = _replay(ordered, twice, changed, reached, graph, out)
    mine = Collector([*found, *catalogue.diags, *replayed])
    if not scope.whole:
        hidden = policy.apply([d for d in mine.diagnostics if d.severity == "error" and not scope.keeps(d.file)])
        mine.keep(scope.keeps)
        mine.extend(d for r in failed if (d := unbuilt(r.repo, r.files, r.where, hidden)))
    if changed is None:
        mine.extend(nothing_rendered(scope, folders, ordered, twice.again, mine.diagnostics))
    _save(graph, scope, ordered, built.records, shared, catalogue, swept=scope.whole and not shared.errors)
    report.extend([*mine.diagnostics, *graph.store.warnings()])
    graph.store.rebuild = _rebuilder(ordered, scope.root, shared, cache, policy, graph.store)


def _rebuilder(ordered: list[tuple[str, Built]], root: Path, shared: _Shared, cache: RunCache, policy: Policy,
               store: Store) -> Callable[[str], str | None]:
    """What gives a README's text when the store cannot give it back (it failed after the records were
    read): its folder built again, in this process, one at a time (a caller may ask from several threads)."""
    import threading

    folder_of = {r.repo: key for key, rec in ordered for r in rec.rendered}
    lock = threading.Lock()
    sources: list[list[Any]] = []

    def rebuild(repo: str) -> str | None:
        with lock:
            if repo not in folder_of:
                return None
            if not sources:
                sources.append((shared.project or _load_shared(root)).shared)
            shard = render_shard([Path(folder_of[repo])], root, sources[0], cache, policy)
            store.keep_texts(shard.texts)
            return next((store.memory.get(r.digest) for rec in shard.records.values() for r in rec.rendered
                         if r.repo == repo and r.digest), None)

    return rebuild


def _sort_folders(folders: list[Path], graph: _Graph, readmes: Path | None, out: Rendering, shared: str,
                  wanted: Callable[[Built], bool]) -> tuple[dict[str, Built], list[Path]]:
    """(fresh folders and their records, stale folders): a folder is fresh when the scope's index vouches
    for it (``index``: the shared sources as its run found them) or its record still holds, and, when the
    run asks about its cards (``wanted``: a change set reaches them, or there is none), its READMEs can be
    compared with the committed ones (``_readable``). What tells the next run that an input is unchanged is
    taken here, before any stale folder is built (``_Graph.sigs``)."""
    fresh: dict[str, Built] = {}
    stale: list[Path] = []
    heads: dict[str, Head] = {}
    if graph.index is not None and graph.index.shared == shared:
        heads = graph.index.fresh([str(f) for f in folders], {str(f): yaml_names(f) for f in folders}, graph.sets,
                                  graph.hasher)
    rest = []
    for f in folders:
        head = heads.get(str(f))
        if head is not None and (not wanted(head) or _readable(head, readmes, graph, out)):
            fresh[str(f)] = head
            out.indexed += 1
        else:
            rest.append(f)
    if graph.index is not None and rest:
        graph.records.update(graph.store.records([str(f) for f in rest]))
    for f in rest:
        rec = graph.records.get(str(f))
        if rec is not None and _fresh(rec, f, graph.hasher, graph.sets) and (
                not wanted(rec) or _readable(rec, readmes, graph, out)):
            fresh[str(f)] = rec
        else:
            stale.append(f)
    graph.sigs = {**graph.hasher.sigs(), **(graph.index.verified if graph.index is not None else {})}
    return fresh, stale


def _fresh(record: Record | None, folder: Path, hasher: Hasher, sets: dict[str, list[str]]) -> bool:
    """Whether a folder's record still holds: same source files, every input hashing the same, and no
    error (an error may be mended by a card added anywhere, e.g. the base it names)."""
    return (record is not None and not record.errors
            and record.files == yaml_names(folder)
            and record.set_id in sets and hasher.digest(record.own, record.set_id, sets) == record.digest)


def _readable(rec: Built, readmes: Path | None, graph: _Graph, out: Rendering) -> bool:
    """Whether the READMEs of a fresh record can be compared with the committed ones: a committed README
    equal to the record's text needs nothing more; one that differs needs the text from the store. A
    committed README is hashed as the inputs are (``stats.Stats``: not read while its signature is as kept)."""
    if readmes is None:
        return True
    stats = graph.hasher.stats
    assert stats is not None
    top = os.path.abspath(readmes)
    for r in rec.rendered:
        if r.digest is None:
            continue
        if stats.sha(os.path.join(top, r.repo, "README.md")) == r.digest:
            graph.matched.add((r.repo, r.digest))
        elif graph.store.text(r.digest) is None:
            return False
    return True


def _shared_sources(root: Path, graph: _Graph) -> _Shared:
    """The shared sources: what loading them found and the entries they define, from the store while
    they are as the last run found them, else loaded."""
    files = [str(p.resolve()) for p in yaml_files(root / SHARED_DIR)]
    digest = sha("\n".join([os.path.realpath(root / SHARED_DIR), *(f"{p}\0{graph.hasher.file(p)}" for p in files)]))
    known, ids = graph.store.memo("shared"), graph.store.get("ids")
    if (known is not None and known.key == digest and isinstance(ids, list) and len(ids) == 3 and ids[0] == digest
            and isinstance(ids[1], list) and all(isinstance(i, str) for i in ids[1]) and isinstance(ids[2], dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in ids[2].items())):
        return _Shared(known, None, ids[1], ids[2])
    project = _load_shared(root)
    return _Shared(Memo(digest, project.diagnostics), project, shared_ids(project.shared),
                   entry_hashes(project.shared))


def _load_shared(root: Path) -> Project:
    from cardgen.loading.sources import load_shared

    return load_shared(root)


def _links_out(escapes: list[Path], root: Path) -> list[Diagnostic]:
    """The linked folders that leave the cards folder, reported as ``load_project`` does."""
    if not escapes:
        return []
    from cardgen.loading.sources import outside_link

    return [outside_link(link, root) for link in escapes]


def _rebuild(stale: list[Path], root: Path, shared: _Shared, jobs: int | None, cache: RunCache, policy: Policy,
             graph: _Graph) -> Shard:
    """Load, check and render the stale folders again: in forked workers when they are many, else in
    this process a batch at a time."""
    assert shared.project is not None
    # judged once, before any worker of this run adds to the load, and only for work worth forking for
    jobs = jobs or (default_jobs() if len(stale) >= PARALLEL_FROM else 1)
    work = partial(render_shard, root=root, shared=shared.project.shared, cache=cache, policy=policy,
                   store=graph.store, before=graph.hasher)
    results = _forked(work, stale, jobs) if worth_forking(len(stale), jobs) else _in_process(work, stale)
    built = Shard()
    for shard in results:
        built.add(shard)
    return built


def _forked(work: Callable[[list[Path]], Shard], stale: list[Path], jobs: int) -> list[Shard]:
    """The stale folders in about ``jobs * 4`` batches (none over ``SHARD_MAX``) over forked workers.
    The first card is rendered here, before the fork: the workers inherit the compiled templates and the
    lint of the parts every card shares instead of each building them again."""
    results = [work(stale[:1])]
    rest = stale[1:]
    n = max(1, min(len(rest), jobs * 4), -(-len(rest) // SHARD_MAX))
    size = -(-len(rest) // n)
    return results + map_items(work, [rest[i:i + size] for i in range(0, len(rest), size)], jobs, min_items=1,
                               batches=True)


def _in_process(work: Callable[[list[Path]], Shard], stale: list[Path]) -> list[Shard]:
    """The stale folders in this process, a batch at a time: what a batch loads is let go before the next."""
    return [work(stale[i:i + SHARD_MAX]) for i in range(0, len(stale), SHARD_MAX)]


#: the memo of the catalogue rules over a whole scope, and over the folders a scoped run went through
WHOLE, PART = "project", "project:part"


def _catalogue(ordered: list[tuple[str, Built]], shared: _Shared, scope: Scope, graph: _Graph, twice: Twice) -> Memo:
    """The project rules (the shared catalogues against every card that carries a risk assessment), judged
    from the risk facts the records keep: no card is loaded for them. Kept from the last run while the
    shared sources and the risk-bearing folders' records are the same (their digests: a finding names a
    place in a card's file), else judged again; a scoped run keeps its own memo, so that it leaves the
    whole scope's as it was."""
    # a folder whose every repository another folder describes first holds no card for one resolver: its
    # risk facts are none of the catalogue's (``gate.described_twice``)
    risky = [(key, rec) for key, rec in ordered if rec.risk and not (
        twice.again and rec.targets and all((t.repo, t.file) in twice.again for t in rec.targets))]
    key = sha("\n".join([shared.memo.key, *(f"{k}\0{rec.digest}" for k, rec in risky)]))
    for slot in (WHOLE, PART):
        known = graph.store.memo(slot)
        if known is not None and known.key == key:
            return known
    base = shared.project if shared.project is not None else _load_shared(scope.root)
    from cardgen.resolve import Registry
    from cardgen.rules import run as rules

    facts = [f for _, rec in risky for f in rec.facts]
    return Memo(key, rules.check_project(Registry(base.shared, Collector()), facts))


def _reacher(changed: frozenset[str] | None, graph: _Graph, shared: str) -> Callable[[Built], bool]:
    """Whether a change set reaches a folder's inputs (``graph.touches``); every folder without one. (A
    committed README among the changes, ``repo:<id>``, reaches its card alone: ``_wanted``.)"""
    if changed is None:
        return lambda rec: True
    from functools import lru_cache

    real = lru_cache(maxsize=None)(os.path.realpath)  # the template folders every record names, resolved once
    common: dict[str, bool] = {}  # whether the change set reaches a common input set, by id (asked once)
    # a folder's own inputs are below it (no link on the way, where the index vouched for it), but for the
    # names found in no shared file (``graph.split_inputs``): a change reaches them only from below the folder
    # or from the shared folder
    below: set[str] = set()  # every folder above a changed file
    for c in changed:
        d = os.path.dirname(c)
        while d not in below and d != os.path.dirname(d):
            below.add(d)
            d = os.path.dirname(d)
    shared_reached = touches([ABSENT], changed, shared, real)

    def reached(rec: Built) -> bool:
        if rec.set_id not in common:
            common[rec.set_id] = touches(graph.sets[rec.set_id], changed, shared, real)
        if common[rec.set_id]:
            return True
        if isinstance(rec, Head) and rec.folder not in below and not (shared_reached and rec.absent):
            return False
        return touches(rec.own, changed, shared, real)

    return reached


def _wanted(rec: Built, changed: frozenset[str] | None, reached: Callable[[Built], bool]) -> bool:
    """Whether a run asks about any card of a folder: no change set, one reaching its inputs, or the
    committed README of one of its cards among the changes."""
    return changed is None or reached(rec) or any(f"repo:{r.repo}" in changed for r in rec.rendered)


def _replay(ordered: list[tuple[str, Built]], twice: Twice, changed: frozenset[str] | None,
            reached: Callable[[Built], bool], graph: _Graph, out: Rendering) -> tuple[list[Diagnostic], list[Rendered]]:
    """Put each README of the records into ``out`` (its text stays in the store), or the card among the
    failed ones; returns what rendering them found, and the cards not rendered. A card no change
    touched (``reached``) is only counted."""
    assert isinstance(out.texts, Texts)
    diags: list[Diagnostic] = []
    failed: list[Rendered] = []
    marks = changed or frozenset()
    for _, rec in ordered:
        hit = changed is None or reached(rec)
        for r in rec.rendered:
            if (r.repo, r.where[0]) in twice.again:
                continue
            if not (hit or f"repo:{r.repo}" in marks):
                out.unaffected += 1
                continue
            diags += r.diags
            if r.digest is None or twice.files.intersection(r.files):
                out.failed.append(r.repo)
                failed.append(r)
            else:
                out.texts.add(r.repo, r.digest, graph.store)
                if (r.repo, r.digest) in graph.matched:
                    out.same.add(r.repo)
                out.where[r.repo] = r.where
                if r.extras:
                    out.extras[r.repo] = r.extras
    return diags, failed


def _save(graph: _Graph, scope: Scope, ordered: list[tuple[str, Built]], built: dict[str, Record], shared: _Shared,
          catalogue: Memo, swept: bool) -> None:
    """Store the rebuilt records, the common sets any record names, the scope's memos and the files' kept
    hashes (``stats``; ``swept``: every folder's inputs were hashed); a whole scope also drops the records
    of the folders that are gone, and keeps its index (``index``) when it changed."""
    every = dict(ordered)
    known = graph.store.folders() if graph.index is not None else list(graph.records)
    gone = [k for k in known if k not in every and scope.keeps(k)] if scope.whole else []
    used = {rec.set_id for rec in every.values()}
    sets = {i: p for i, p in graph.sets.items() if i in used}
    blobs = {}
    same = graph.index is not None and not built and len(ordered) == len(graph.index.lines) and all(
        isinstance(rec, Head) for _, rec in ordered)  # every folder vouched for by the index: it is as it was
    if swept and not walked.LINKED and not same:
        blobs = index_values(str(scope.root), ordered, sets, graph.sigs, shared.memo.key, graph.index)
    graph.store.save(built, sets, gone,
                     {"shared": shared.memo.to_json(), WHOLE if scope.whole else PART: catalogue.to_json(),
                      "ids": [shared.memo.key, shared.ids, shared.entries]},
                     graph.hasher.stats.keep(str(scope.root) if swept else None) if graph.hasher.stats else None,
                     blobs)
