"""The pipeline: scope → load → resolve → check → render → lint → write or compare.

``render_all`` validates and renders every card of a selection; ``render_to`` writes the READMEs
atomically; ``drift`` compares them with the committed ones (the CI check). Large batches are
validated, rendered and linted shard by shard inside forked workers (``parallel``), with the checks
that need every card (a repository described twice, the shared catalogues) made in the parent.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen.cache import RunCache
from cardgen.diagnostics import Collector, Diagnostic, Where, error
from cardgen.files import atomic_write, clean_leftovers, committed, escaping_link, file_mode, readme_path
from cardgen.loading.scope import SHARED_DIR, Scope, Selection, yaml_files, yaml_names
from cardgen.parallel import PARALLEL_FROM, default_jobs, map_items, worth_forking
from cardgen.pipeline.graph import (
    DIR,
    Hasher,
    Store,
    Texts,
    as_tuple,
    diag_in,
    diag_out,
    environment,
    sha,
    split_inputs,
    where_in,
)
from cardgen.policy import Policy

if TYPE_CHECKING:
    from cardgen.card import Card
    from cardgen.loading.sources import Project
    from cardgen.rules.registry import RiskFacts

# Loading, checking, rendering and linting are imported where they are used: a run whose cards are all
# fresh in the dependency graph needs none of them, and starts in a fraction of the time.

#: at most this many card folders in one worker's batch: what a batch loads is held until it is done
SHARD_MAX = 256


@dataclass
class Rendering:
    """What a render produced: README texts, the problems found, and which cards failed."""

    texts: Mapping[str, str] = field(default_factory=dict)  # repo id -> README (``Texts``: read when asked for)
    same: set[str] = field(default_factory=set)  # repo ids whose committed README is known to equal the text
    diagnostics: list[Diagnostic] = field(default_factory=list)
    cards: dict[str, Card] = field(default_factory=dict)  # repo id -> card (not kept by sharded runs)
    failed: list[str] = field(default_factory=list)  # repo ids not rendered (invalid or lint errors)
    where: dict[str, tuple[str, tuple[Any, ...]]] = field(default_factory=dict)  # repo id -> its repo id's place
    unaffected: int = 0  # cards left alone: none of their inputs changed (`--changed-since`)
    folders: int = 0  # card folders gone through the dependency graph
    rebuilt: int = 0  # of those, the ones loaded, checked and rendered again (the others replayed)

    def graph_note(self) -> str:
        return (f"dependency graph: {self.rebuilt} of {self.folders} card folders rebuilt, the others unchanged "
                "since the last run")

    def position(self, repo: str) -> Where:
        """Where a rendered repository is named in its sources."""
        from cardgen.loading.sources import locate

        file, path = self.where[repo]
        return locate(file, path)


def affected(card: Card, changed: frozenset[str] | None) -> bool:
    """Whether a card must be rendered again: no change set given, one of its inputs changed, or its
    committed README did (``repo:<id>`` in the set)."""
    return changed is None or f"repo:{card.repo_id}" in changed or bool(card.inputs() & changed)


def render_all(selection: Selection, jobs: int | None = None, keep_cards: bool = True,
               policy: Policy | None = None, changed: frozenset[str] | None = None,
               readmes: Path | None = None) -> Rendering:
    """Validate and render; cards with errors are not rendered.

    With ``keep_cards=False`` (validate, render and check, which need only the texts) each scope goes
    through its dependency graph (``_render_graph``): only the folders whose inputs changed since the
    last run are loaded, checked and rendered, in forked workers when there are many, and the texts
    stay in the graph's store (``Rendering.texts`` reads them when asked); ``Rendering.cards`` then
    stays empty. ``readmes`` is the folder of the committed READMEs the texts will be compared with.
    """
    from cardgen.card import forget_files
    from cardgen.pipeline.validate import validate_scope

    out = Rendering()
    report = Collector()
    cache = RunCache()
    forget_files()
    if not keep_cards:
        out.texts = Texts()
    for scope in selection.scopes:
        if not keep_cards:
            _render_graph(scope, jobs, out, report, cache, policy or Policy(), changed, readmes)
            continue
        res = validate_scope(scope, jobs, policy)
        report.extend(res.diagnostics)
        bad_files = {d.file for d in res.errors}
        todo = []
        for card in res.cards:
            if not affected(card, changed):
                out.unaffected += 1
                continue
            (out.failed.append(card.repo_id) if card.files() & bad_files else todo.append(card))
        rendered = map_items(partial(render_one, cache=cache), todo, jobs)
        for card, (text, diags) in zip(todo, rendered, strict=True):
            report.extend(diags)
            if text is None:
                out.failed.append(card.repo_id)
            else:
                assert isinstance(out.texts, dict)
                out.texts[card.repo_id] = text
                out.cards[card.repo_id] = card
                out.where[card.repo_id] = card.where_path()
    out.diagnostics = (policy or Policy()).apply(report.diagnostics)
    return out


def render_one(card: Card, cache: RunCache) -> tuple[str | None, list[Diagnostic]]:
    """Render and lint one card: (README or None, diagnostics)."""
    from cardgen.lint import lint, lint_body
    from cardgen.rendering.jinja import render_card
    from cardgen.rendering.provenance import unsealed

    report = Collector()
    text = render_card(card, cache, report)
    if text is None:
        return None, report.diagnostics
    # the front matter cardgen wrote ends at its first `---` line; its closing comment has nothing to lint
    head, sep, body = unsealed(text).partition("\n---\n")
    problems = lint_body(body, head.count("\n") + 2) if sep else lint(unsealed(text))
    if problems:
        readme = text.split("\n")
        place = source_lines(card)
        found = [error(place(readme, p.line), p.code, f"{card.repo_id} README line {p.line}: {p.message}")
                 for p in problems]
        if any(ref.value.verbatim for ref in card.sections):
            # a card with verbatim sections (imported) shows its author's own text: what the lint finds is
            # reported for them to fix, and does not stop the card (the imported text is kept as written)
            return text, [replace(d, severity="warning", message=d.message + " (in text kept as its author wrote "
                                                                                "it)") for d in found]
        return None, found
    return text, []


def source_lines(card: Card) -> Callable[[list[str], int], Where]:
    """For a card, where line ``n`` of its README comes from when a person wrote it: the line of a free
    section's text in its YAML file, or of a template of the card's own (found with the lines after it,
    so that a line written in many places, such as a fence, is placed by its context); else where the
    card's repo id is written. The texts are read once, for all the lines asked about."""
    import re

    texts: list[tuple[list[str], Any]] = []  # (lines, how to place line k of them)
    for ref in card.sections:
        if ref.value.body is None:
            continue
        at = ref.pos("body")
        try:
            head = Path(at.file).read_text("utf-8").split("\n")[at.line - 1]
        except (OSError, UnicodeDecodeError, IndexError):
            head = ""
        block = re.search(r"[|>][-+0-9]*\s*(#.*)?$", head)  # a block scalar: the text starts on the next line
        texts.append((ref.text.split("\n"), (lambda k, at=at, block=block: Where(at.file, at.line + 1 + k, 1)
                                             if block else at)))
    own = Path(card.templates[0]) if card.templates else None
    if own is not None and own.is_relative_to(card.src.folder):
        for f in sorted(own.glob("*.j2")):
            try:
                texts.append((f.read_text("utf-8").split("\n"), lambda k, f=f: Where(str(f), k + 1, 1)))
            except (OSError, UnicodeDecodeError):
                continue
    stripped = [([x.strip() for x in lines], place) for lines, place in texts]

    def find(readme: list[str], n: int) -> Where:
        for size in (3, 2, 1):
            want = [x.strip() for x in readme[n - 1:n - 1 + size]]
            if len(want) < size or not want[0]:
                continue
            hits = [place(k) for lines, place in stripped for k in range(len(lines) - size + 1)
                    if lines[k:k + size] == want]
            if len(hits) == 1:
                return hits[0]
        return card.where()

    return find


@dataclass
class _Shard:
    """What rendering some card folders gave: a record per folder (see ``graph``) and the cards that
    carry risk assessments (for the catalogue rules, which need every card)."""

    records: dict[str, dict[str, Any]]  # folder -> record
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
    records: dict[str, dict[str, Any]] = {}
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
        rendered = []
        for card in cs:
            files = card.files()
            text, rdiags = (None, []) if files & bad_files else render_one(card, cache)
            digest = None if text is None else sha(text)
            if text is not None and digest is not None:
                texts.append((digest, str(f), text))
            rendered.append([card.repo_id, digest, [diag_out(d) for d in rdiags], sorted(files),
                             list(card.where_path())])
        own, common = split_inputs(f, inputs[f])
        set_id = sha("\n".join(common))
        sets[set_id] = common
        mine_diags = assigned[str(f)]
        own_src = sources.get(f)
        records[str(f)] = {
            "files": names[f], "own": own, "set": set_id,
            "digest": hasher.digest(own, set_id, sets),
            "diags": [diag_out(d) for d in mine_diags],
            "errors": any(d.severity == "error" for d in mine_diags) or any(r[1] is None for r in rendered),
            "rendered": rendered,
            "targets": [[repo, own_src.doc_for(path).file, list(path)] for repo, _, path in targets(own_src)]
            if own_src is not None and own_src.model else [],
            "risk": any(c.model.risk_assessment for c in cs),
        }
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


def _fresh(record: dict[str, Any] | None, folder: Path, hasher: Hasher, sets: dict[str, list[str]]) -> bool:
    """Whether a folder's record still holds: same source files, every input hashing the same, and no
    error (an error may be mended by a card added anywhere, e.g. the base it names)."""
    return (record is not None and not record["errors"]
            and record["files"] == yaml_names(folder)
            and record["set"] in sets and hasher.digest(record["own"], record["set"], sets) == record["digest"])


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
    fresh: dict[str, dict[str, Any]] = {}
    for f in folders:
        rec = records.get(str(f))
        if rec is not None and _fresh(rec, f, hasher, sets) and _readable(rec, readmes, store, out):
            fresh[str(f)] = rec
        else:
            stale.append(f)
    shared_files = [str(p.resolve()) for p in yaml_files(scope.root / SHARED_DIR)]
    shared_digest = sha("\n".join(f"{p}\0{hasher.file(p)}" for p in shared_files))
    known_shared = _pair(store.get("shared"))
    base: Project | None = None
    if stale or not known_shared or known_shared[0] != shared_digest:
        from cardgen.loading.sources import load_shared

        base = load_shared(scope.root)
        shared_diags = base.diagnostics
    else:
        shared_diags = [diag_in(d) for d in known_shared[1]]
    mine = Collector(shared_diags)
    if escapes:
        from cardgen.loading.sources import outside_link

        mine.extend(outside_link(link, scope.root) for link in escapes)  # as load_project does
    computed: dict[str, dict[str, Any]] = {}
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
            facts_from.update(k for k, rec in shard.records.items() if rec["risk"])
    every = {**fresh, **computed}
    out.folders += len(folders)
    out.rebuilt += len(computed)
    ordered = [(str(f), every[str(f)]) for f in folders if str(f) in every]
    # what a single resolver sees across all folders: a repo described twice, the catalogue against every card
    first: dict[str, str] = {}
    bad_files: set[str] = set()
    again: set[tuple[str, str]] = set()  # (repo id, file) of a second description: not a card at all
    for _, rec in ordered:
        mine.extend(diag_in(d) for d in rec["diags"])
        for repo, file, path in rec["targets"]:
            if repo not in first:
                first[repo] = file
            elif first[repo] != file:
                from cardgen.loading.sources import locate
                from cardgen.resolve import described_twice

                mine.add(described_twice(repo, locate(file, as_tuple(path)), first[repo]))
                bad_files.add(file)
                again.add((repo, file))
    if again:  # a second description is no card for one resolver: what was checked of it as one goes
        mine = Collector(d for d in mine.diagnostics
                         if not (d.code == "CG217" and any(d.file == f for _, f in again)))
    risky = sorted((key, rec["digest"]) for key, rec in ordered if rec["risk"])
    project_key = sha("\n".join([shared_digest, *(f"{k}\0{d}" for k, d in risky)]))
    known_project = _pair(store.get("project"))
    if known_project and known_project[0] == project_key:
        project_diags = [diag_in(d) for d in known_project[1]]
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
        for repo, digest, rdiags, files, where in rec["rendered"]:
            if (repo, where[0]) in again:
                continue
            if not (changed is None or f"repo:{repo}" in changed
                    or any(p in changed for p in rec["own"]) or any(p in changed for p in sets[rec["set"]])):
                out.unaffected += 1
                continue
            mine.extend(diag_in(d) for d in rdiags)
            if digest is None or bad_files.intersection(files):
                out.failed.append(repo)
            else:
                assert isinstance(out.texts, Texts)
                out.texts.add(repo, digest, store)
                out.where[repo] = where_in(where)
    if not scope.whole:
        mine.keep(scope.keeps)
    report.extend(mine.diagnostics)
    gone = [k for k in records if k not in every and scope.keeps(k)] if scope.whole else []
    used = {rec["set"] for rec in every.values()}
    store.save(computed, {i: p for i, p in sets.items() if i in used}, gone,
               {"shared": [shared_digest, [diag_out(d) for d in shared_diags]],
                "project": [project_key, [diag_out(d) for d in project_diags]]})


def _pair(value: Any) -> tuple[str, list[Any]] | None:
    """A stored (key, diagnostics) pair, or None when it is not one."""
    if (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], list)
            and all(isinstance(d, list) and len(d) == 6 for d in value[1])):
        return value[0], value[1]
    return None


def _readable(rec: dict[str, Any], readmes: Path | None, store: Store, out: Rendering) -> bool:
    """Whether the READMEs of a fresh record can be compared with the committed ones: a committed README
    equal to the record's text needs nothing more; one that differs needs the text from the store."""
    if readmes is None:
        return True
    for repo, digest, *_ in rec["rendered"]:
        if digest is None:
            continue
        try:
            with open(os.path.join(readmes, repo, "README.md"), "rb") as f:
                old = f.read()
        except OSError:
            old = None
        if old is not None and sha(old) == digest:
            out.same.add(repo)
        elif store.text(digest) is None:
            return False
    return True


def render_to(selection: Selection, out: Path, jobs: int | None = None, policy: Policy | None = None,
              changed: frozenset[str] | None = None,
              notes: list[str] | None = None) -> tuple[list[Diagnostic], list[tuple[Path, str]]]:
    """Render and write each README that changed; (diagnostics, [(path, 'written' | 'unchanged')])."""
    rendering = render_all(selection, jobs, keep_cards=False, policy=policy,
                           changed=None if changed is None else changed | readme_changes(changed, out), readmes=out)
    report = Collector(rendering.diagnostics)
    if notes is not None and rendering.folders:
        notes.append(rendering.graph_note())
    written = []
    todo: list[tuple[str, Path]] = []
    owners: dict[str, Path | None] = {}  # each owner folder checked once
    for repo in sorted(rendering.texts):
        p = readme_path(out, repo)
        owner = repo.split("/")[0]
        if owner not in owners:
            owners[owner] = escaping_link(out / owner, out)
        link = owners[owner] or (p.parent if p.parent.is_symlink() and escaping_link(p.parent, out) else None)
        if link is not None:  # never write through a link out of --out
            report.error(rendering.position(repo), "CG304", f"{link} is a link to {link.resolve()}, outside "
                                                            f"{out}: {repo} not written")
            continue
        clean_leftovers(p.parent)
        if repo in rendering.same:
            written.append((p, "unchanged"))
            continue
        todo.append((repo, p))
    # the READMEs are derived (render writes them again from the sources, `check` finds one that is not
    # what the sources give), like a site generator's pages: each is replaced atomically (never a torn
    # file), not synced to the disk (two syncs per file cost more than the rest of the write, and one
    # os.sync() at the end would flush every other program's writes too); a few threads overlap the reads
    # of the committed files and the writes; each thread reads its text when it comes to it, so the texts
    # are never all held at once
    mode = file_mode()

    def write(item: tuple[str, Path]) -> str | None:
        try:
            text = rendering.texts[item[0]]
        except KeyError as e:  # another run replaced it in the store meanwhile
            return str(e)
        if committed(item[1]) == text:
            return "unchanged"
        try:
            atomic_write(item[1], text, mode, sync=False)
        except OSError as e:
            return e.strerror or str(e)
        return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        for (repo, p), problem in zip(todo, pool.map(write, todo), strict=True):
            if problem == "unchanged":
                written.append((p, "unchanged"))
            elif problem:
                report.error(rendering.position(repo), "CG008", f"cannot write {p}: {problem}")
            else:
                written.append((p, "written"))
    return report.diagnostics, written


def unified(old: str | None, new: str, path: str) -> str:
    return "".join(difflib.unified_diff(
        (old or "").splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f"a/{path}" if old is not None else "/dev/null", tofile=f"b/{path}"))


@dataclass
class Drift:
    readme: Path
    state: str  # missing | out of date
    diff: str
    front_matter: list[tuple[str, Any, Any]] = field(default_factory=list)  # (key, committed, rendered) that differ


def front_matter_changes(old: str | None, new: str) -> list[tuple[str, Any, Any]]:
    """The front-matter keys whose values differ between two READMEs: (key, old value, new value)."""
    from cardgen.frontmatter import mapping, split

    a, b = (mapping(split(t)[0] if t else None) for t in (old, new))
    return [(str(k), a.get(k), b.get(k)) for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]


def readme_changes(changed: frozenset[str], out: Path) -> frozenset[str]:
    """``repo:<id>`` for each committed README under ``out`` among the changed files."""
    root = out.resolve()
    marks = set()
    for f in changed:
        try:
            rel = Path(f).relative_to(root)
        except ValueError:
            continue
        if len(rel.parts) == 3 and rel.parts[2] == "README.md":
            marks.add(f"repo:{rel.parts[0]}/{rel.parts[1]}")
    return frozenset(marks)


def drift(selection: Selection, out: Path, jobs: int | None = None, policy: Policy | None = None,
          changed: frozenset[str] | None = None,
          notes: list[str] | None = None) -> tuple[list[Diagnostic], list[Drift], int]:
    """Render in memory and compare with the committed READMEs under ``out``; with ``changed``, only the
    cards whose inputs (or committed README) are among those files."""
    rendering = render_all(selection, jobs, keep_cards=False, policy=policy,
                           changed=None if changed is None else changed | readme_changes(changed, out), readmes=out)
    report = Collector(rendering.diagnostics)
    if notes is not None and rendering.folders:
        notes.append(rendering.graph_note())
    drifted = []
    for repo in sorted(rendering.texts):
        if repo in rendering.same:
            continue
        p = readme_path(out, repo)
        try:
            text = rendering.texts[repo]
        except KeyError as e:  # another run replaced it in the store meanwhile
            report.error(rendering.position(repo), "CG008", f"{p} not compared: {e}; run again")
            continue
        old = committed(p)
        if old != text:
            state = "missing" if old is None else "out of date"
            drifted.append(Drift(p, state, unified(old, text, str(p)), front_matter_changes(old, text)))
            report.error(rendering.position(repo), "CG708", f"{p} is {state}")
    return report.diagnostics, drifted, len(rendering.texts) + len(rendering.failed)
