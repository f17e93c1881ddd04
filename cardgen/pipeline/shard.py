"""Some card folders built in one worker (or in the run's own process): loaded, checked, rendered and
linted as ``validate_scope`` and ``render_all`` do in one, a record per folder (``records.Record``) with
its inputs hashed as the build read them (``graph.Hasher``), its texts put in the graph's store. What the
incremental run (``incremental``) hands its stale folders to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen import files as read_log
from cardgen.cache import RunCache
from cardgen.diagnostics import Collector, Diagnostic
from cardgen.loading.scope import yaml_names
from cardgen.pipeline.graph import DIR, ENTRY, Hasher, bare, entry_hashes, folder_inputs, sha, shared_ids, split_inputs
from cardgen.pipeline.records import Record, Rendered, Target
from cardgen.pipeline.run import render_one
from cardgen.pipeline.store import Store
from cardgen.policy import Policy

if TYPE_CHECKING:
    from cardgen.card import Card
    from cardgen.loading.sources import Project, Source


@dataclass
class Shard:
    """What rendering some card folders gave: a record per folder (``records.Record``, which keeps the risk
    facts the catalogue rules need of its cards)."""

    records: dict[str, Record] = field(default_factory=dict)  # folder -> record
    sets: dict[str, list[str]] = field(default_factory=dict)  # common input sets the records name
    texts: list[tuple[str, str, str]] = field(default_factory=list)  # those the store could not take
    problem: str | None = None  # why the store could not take them

    def add(self, other: Shard) -> None:
        """Take in what another shard gave."""
        self.records.update(other.records)
        self.sets.update(other.sets)
        self.texts += other.texts
        self.problem = self.problem or other.problem



def render_shard(folders: list[Path], root: Path, shared: list[Any], cache: RunCache, policy: Policy,
                  store: Store | None = None, before: Hasher | None = None) -> Shard:
    """Load, check, render and lint the cards of some folders (in a worker process), as
    ``validate_scope`` and ``render_all`` do in one: the same policy decides what stops a card. The
    texts go to the store (or come back, when it cannot take them); a record per folder comes back,
    its inputs hashed as the build read them (``graph.Hasher``)."""
    from cardgen.pipeline.validate import check_project

    hasher = Hasher(read_log.READS, before, frozenset(shared_ids(shared)),
                    entries=before.entries if before is not None else entry_hashes(shared))
    for f in folders:  # what a template folder holds, hashed before any template is read
        for t in (f / "templates", f.parent / "_templates"):
            hasher.file(DIR + os.path.abspath(t))
    project = _load_folders(folders, root, shared)
    report = Collector()
    cards = check_project(project, report, catalogue=False, policy=policy)
    shard = Shard()
    texts = _record_folders(folders, project, cards, policy.apply(report.diagnostics), cache, shard, hasher)
    if texts and (store is None or not store.put_texts(texts)):
        shard.texts, shard.problem = texts, store.problem if store is not None else None
    return shard


def _load_folders(folders: list[Path], root: Path, shared: list[Any]) -> Project:
    """The sources of some folders, and of the cards they extend from other shards (resolved here,
    rendered there)."""
    from cardgen.loading.sources import Project, load_card
    from cardgen.pipeline.validate import load_missing_bases

    project = Project(root, shared=list(shared))
    for folder in folders:
        src, d = load_card(folder, root)
        project.diagnostics += d
        if src.docs:
            project.cards.append(src)
    load_missing_bases(project)
    return project


def _record_folders(folders: list[Path], project: Project, cards: list[Card], diags: list[Diagnostic],
                    cache: RunCache, shard: Shard, hasher: Hasher) -> list[tuple[str, str, str]]:
    """Render the checked cards of each folder and put the folder's record (and its common input set)
    into ``shard``; returns the texts, (hash, folder, text)."""
    from cardgen.rules.registry import risk_facts

    mine = set(folders)
    by_folder: dict[Path, list[Card]] = {f: [] for f in folders}
    for card in cards:
        if card.src.folder in mine:
            by_folder[card.src.folder].append(card)
    names = {f: yaml_names(f) for f in folders}
    inputs = {f: folder_inputs(f, cs, names[f], cache.files) for f, cs in by_folder.items()}
    assigned = _assign(diags, inputs, folders, [s.folder for s in project.cards if s.folder not in mine])
    sources = {s.folder: s for s in project.cards if s.folder in mine}
    bad_files = Collector(diags).files_with_errors()
    texts: list[tuple[str, str, str]] = []
    for f, cs in by_folder.items():
        rendered = _render_folder(f, cs, bad_files, cache, texts)
        own, set_id = _common_set(f, inputs[f], shard.sets)
        found = assigned[str(f)]
        shard.records[str(f)] = Record(
            files=names[f], own=own, set_id=set_id, digest=hasher.digest(own, set_id, shard.sets), diags=found,
            errors=any(d.severity == "error" for d in found) or any(r.digest is None for r in rendered),
            rendered=rendered, targets=_targets(sources.get(f)), facts=[rf for c in cs if (rf := risk_facts(c))])
    return texts


def _assign(diags: list[Diagnostic], inputs: dict[Path, set[str]], folders: list[Path],
            others: list[Path]) -> dict[str, list[Diagnostic]]:
    """Each diagnostic goes to the record of every folder whose cards were built from its file, else to
    the folder that holds its file, else to every folder of the shard; but one in a folder loaded from
    outside the shard (``others``: the cards searched for a missing base) that none of its cards was built
    from goes to none: that folder's own record holds it, and it is no input of these."""
    if not diags:
        return {str(f): [] for f in folders}
    claims: dict[str, list[str]] = {}  # diagnostic file -> folders whose cards were built from it
    for f, ins in inputs.items():
        for i in {bare(i) if i.startswith(ENTRY) else i for i in ins}:  # an entry claims for its file
            claims.setdefault(i, []).append(str(f))
    prefixes = [(str(f) + os.sep, str(f)) for f in folders]
    elsewhere = [str(f) + os.sep for f in others]
    assigned: dict[str, list[Diagnostic]] = {str(f): [] for f in folders}
    for diag in diags:
        file = os.path.abspath(diag.file)  # a diagnostic names its file as displayed (relative to here)
        owners = claims.get(file) or [f for pre, f in prefixes if file.startswith(pre)]
        if not owners and any(file.startswith(pre) for pre in elsewhere):
            continue
        for o in owners or list(assigned):
            assigned[o].append(diag)
    return assigned


def _render_folder(folder: Path, cards: list[Card], bad_files: set[str], cache: RunCache,
                   texts: list[tuple[str, str, str]]) -> list[Rendered]:
    """Render and lint the cards of a folder (none built from a file with an error); their texts go to
    ``texts``, (hash, folder, text)."""
    from cardgen.evals.entries import eval_files

    rendered = []
    for card in cards:
        files = card.built_from()
        text, diags = (None, []) if files & bad_files else render_one(card, cache)
        digest = None if text is None else sha(text)
        if text is not None and digest is not None:
            texts.append((digest, str(folder), text))
        extras = eval_files(card) if text is not None else {}
        rendered.append(Rendered(card.repo_id, digest, diags, sorted(files), card.where_path(), extras))
    return rendered


def _common_set(folder: Path, inputs: set[str], sets: dict[str, list[str]]) -> tuple[list[str], str]:
    """A folder's inputs as (its own, the id of the common set of the others); the set goes to ``sets``."""
    own, common = split_inputs(folder, inputs)
    set_id = sha("\n".join(common))
    sets[set_id] = common
    return own, set_id


def _targets(source: Source | None) -> list[Target]:
    """The repositories a folder's card source describes, and where each repo id is written."""
    from cardgen.resolve import targets

    if source is None or not source.model:
        return []
    return [Target(repo, source.doc_for(path).file, path) for repo, _, path in targets(source)]
