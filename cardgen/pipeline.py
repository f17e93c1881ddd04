"""The pipeline: scope → load → resolve → check → render → lint → write or compare.

``render_all`` validates and renders every card of a selection; ``render_to`` writes the READMEs
atomically; ``drift`` compares them with the committed ones (the CI check). Large batches are
validated, rendered and linted shard by shard inside forked workers (``parallel``), with the checks
that need every card (a repository described twice, the shared catalogues) made in the parent.
"""

from __future__ import annotations

import difflib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from . import rules
from .cache import RunCache
from .card import Card
from .checking import check_project, load_missing_bases, validate_scope
from .diagnostics import Collector, Diagnostic, Where, error
from .files import atomic_write, clean_leftovers, committed, escaping_link, file_mode, readme_path
from .lint import lint, lint_body
from .parallel import default_jobs, map_items, worth_forking
from .policy import Policy
from .provenance import unsealed
from .renderer import render_card
from .resolve import Registry, described_twice, targets
from .scope import Scope, Selection
from .sources import Project, load_card, load_shared, locate, outside_link


@dataclass
class Rendering:
    """What a render produced: README texts, the problems found, and which cards failed."""

    texts: dict[str, str] = field(default_factory=dict)  # repo id -> README
    diagnostics: list[Diagnostic] = field(default_factory=list)
    cards: dict[str, Card] = field(default_factory=dict)  # repo id -> card (not kept by sharded runs)
    failed: list[str] = field(default_factory=list)  # repo ids not rendered (invalid or lint errors)
    where: dict[str, tuple[str, tuple[Any, ...]]] = field(default_factory=dict)  # repo id -> its repo id's place
    unaffected: int = 0  # cards left alone: none of their inputs changed (`--changed-since`)

    def position(self, repo: str) -> Where:
        """Where a rendered repository is named in its sources."""
        file, path = self.where[repo]
        return locate(file, path)


def affected(card: Card, changed: frozenset[str] | None) -> bool:
    """Whether a card must be rendered again: no change set given, one of its inputs changed, or its
    committed README did (``repo:<id>`` in the set)."""
    return changed is None or f"repo:{card.repo_id}" in changed or bool(card.inputs() & changed)


def render_all(selection: Selection, jobs: int | None = None, keep_cards: bool = True,
               policy: Policy | None = None, changed: frozenset[str] | None = None) -> Rendering:
    """Validate and render; cards with errors are not rendered.

    With ``keep_cards=False`` (rendering and drift checks, which need only the texts) a large batch
    is validated, rendered and linted shard by shard inside the workers, so that no card travels
    between processes; ``Rendering.cards`` then stays empty.
    """
    out = Rendering()
    report = Collector()
    cache = RunCache()
    for scope in selection.scopes:
        folders = scope.folders()
        if not keep_cards and worth_forking(len(folders), jobs):
            _render_shards(scope, folders, jobs, out, report, cache, policy or Policy(), changed)
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
                out.texts[card.repo_id] = text
                out.cards[card.repo_id] = card
                out.where[card.repo_id] = card.where_path()
    out.diagnostics = (policy or Policy()).apply(report.diagnostics)
    return out


def render_one(card: Card, cache: RunCache) -> tuple[str | None, list[Diagnostic]]:
    """Render and lint one card: (README or None, diagnostics)."""
    report = Collector()
    text = render_card(card, cache, report)
    if text is None:
        return None, report.diagnostics
    # the front matter cardgen wrote ends at its first `---` line; its closing comment has nothing to lint
    head, sep, body = unsealed(text).partition("\n---\n")
    problems = lint_body(body, head.count("\n") + 2) if sep else lint(unsealed(text))
    if problems:
        where = card.where()
        found = [error(where, p.code, f"{card.repo_id} README line {p.line}: {p.message}") for p in problems]
        if any(ref.value.verbatim for ref in card.sections):
            # a card with verbatim sections (imported) shows its author's own text: what the lint finds is
            # reported for them to fix, and does not stop the card (the imported text is kept as written)
            return text, [replace(d, severity="warning", message=d.message + " (in text kept as its author wrote "
                                                                                "it)") for d in found]
        return None, found
    return text, []


@dataclass
class _Shard:
    diagnostics: list[Diagnostic]
    rendered: list[tuple[str, str | None, list[Diagnostic], set[str], tuple[str, tuple[Any, ...]]]]
    targets: list[tuple[str, str, tuple[Any, ...]]]  # repo id, file, path
    risk_cards: list[Card]  # for the catalogue rules, which need every card
    unaffected: int = 0


def _render_shard(folders: list[Path], root: Path, shared: list[Any], cache: RunCache, policy: Policy,
                  changed: frozenset[str] | None = None) -> _Shard:
    """Load, check, render and lint the cards of some folders (in a worker process), as
    ``validate_scope`` and ``render_all`` do in one: the same policy decides what stops a card."""
    project = Project(root, shared=list(shared))
    for folder in folders:
        src, d = load_card(folder, root)
        project.diagnostics += d
        if src.docs:
            project.cards.append(src)
    mine = set(folders)
    found = [(repo, src.doc_for(path).file, path) for src in project.cards if src.model
             for repo, _, path in targets(src)]
    load_missing_bases(project)  # cards they extend, from other shards: resolved here, rendered there
    report = Collector()
    cards = check_project(project, report, catalogue=False, policy=policy)
    report = Collector(policy.apply(report.diagnostics))
    bad_files = report.files_with_errors()
    rendered = []
    unaffected = 0
    for card in cards:
        if card.src.folder not in mine:
            continue
        if not affected(card, changed):
            unaffected += 1
            continue
        files = card.files()
        text, diags = (None, []) if files & bad_files else render_one(card, cache)
        rendered.append((card.repo_id, text, diags, files, card.where_path()))
    risk_cards = [c for c in cards if c.src.folder in mine and c.model.risk_assessment]
    return _Shard(report.diagnostics, rendered, found, risk_cards, unaffected)


def _render_shards(scope: Scope, folders: list[Path], jobs: int | None, out: Rendering, report: Collector,
                   cache: RunCache, policy: Policy, changed: frozenset[str] | None = None) -> None:
    base = load_shared(scope.root)
    base.diagnostics += [outside_link(link, scope.root) for link in scope.walk()[1]]  # as load_project does
    work = partial(_render_shard, root=scope.root, shared=base.shared, cache=cache, policy=policy, changed=changed)
    # The first card is rendered here, before the fork: the workers inherit the compiled templates
    # and the lint of the parts every card shares instead of each building them again.
    first_shard = work(folders[:1])
    rest = folders[1:]
    n = max(1, min(len(rest), (jobs or default_jobs()) * 4))  # a few shards per worker evens out the load
    size = -(-len(rest) // n)
    shards = [rest[i:i + size] for i in range(0, len(rest), size)]
    results = [first_shard, *map_items(work, shards, jobs, min_items=1)]
    mine = Collector(base.diagnostics)
    # what a single resolver sees across shards: a repo described twice, the catalogue against every card
    first: dict[str, tuple[int, str]] = {}
    bad_files: set[str] = set()
    again: set[tuple[str, str]] = set()  # (repo id, file) of a second description: not a card at all
    for i, shard in enumerate(results):
        mine.extend(shard.diagnostics)
        for repo, file, path in shard.targets:
            if repo not in first:
                first[repo] = (i, file)
            elif first[repo][0] != i:  # within one shard its own resolver reported it
                mine.add(described_twice(repo, locate(file, path), first[repo][1]))
                bad_files.add(file)
                again.add((repo, file))
    if again:  # a second description is no card for one resolver: what its shard checked of it as one goes
        mine = Collector(d for d in mine.diagnostics
                         if not (d.code == "CG217" and any(d.file == f for _, f in again)))
    mine.extend(rules.check_project(Registry(base.shared, Collector()), [c for s in results for c in s.risk_cards]))
    for shard in results:
        out.unaffected += shard.unaffected
        for repo, text, rdiags, files, where in shard.rendered:
            if (repo, where[0]) in again:
                continue
            mine.extend(rdiags)
            if text is None or files & bad_files:
                out.failed.append(repo)
            else:
                out.texts[repo] = text
                out.where[repo] = where
    if not scope.whole:
        mine.keep(scope.keeps)
    report.extend(mine.diagnostics)


def render_to(selection: Selection, out: Path, jobs: int | None = None, policy: Policy | None = None,
              changed: frozenset[str] | None = None) -> tuple[list[Diagnostic], list[tuple[Path, str]]]:
    """Render and write each README that changed; (diagnostics, [(path, 'written' | 'unchanged')])."""
    rendering = render_all(selection, jobs, keep_cards=False, policy=policy,
                           changed=None if changed is None else changed | readme_changes(changed, out))
    report = Collector(rendering.diagnostics)
    written = []
    todo: list[tuple[str, Path, str]] = []
    owners: dict[str, Path | None] = {}  # each owner folder checked once
    for repo, text in sorted(rendering.texts.items()):
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
        if committed(p) == text:
            written.append((p, "unchanged"))
            continue
        todo.append((repo, p, text))
    # each write waits on the disk twice (the file, then its folder): a few threads overlap those waits
    mode = file_mode()

    def write(item: tuple[str, Path, str]) -> str | None:
        try:
            atomic_write(item[1], item[2], mode)
        except OSError as e:
            return e.strerror or str(e)
        return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        for (repo, p, _), problem in zip(todo, pool.map(write, todo), strict=True):
            if problem:
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
    import yaml

    from .frontmatter import split

    def meta(text: str | None) -> dict[str, Any]:
        block = split(text)[0] if text else None
        try:
            data = yaml.safe_load(block) if block else {}
        except yaml.YAMLError:
            return {}
        return data if isinstance(data, dict) else {}

    a, b = meta(old), meta(new)
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
          changed: frozenset[str] | None = None) -> tuple[list[Diagnostic], list[Drift], int]:
    """Render in memory and compare with the committed READMEs under ``out``; with ``changed``, only the
    cards whose inputs (or committed README) are among those files."""
    rendering = render_all(selection, jobs, keep_cards=False, policy=policy,
                           changed=None if changed is None else changed | readme_changes(changed, out))
    report = Collector(rendering.diagnostics)
    drifted = []
    for repo, text in sorted(rendering.texts.items()):
        p = readme_path(out, repo)
        old = committed(p)
        if old != text:
            state = "missing" if old is None else "out of date"
            drifted.append(Drift(p, state, unified(old, text, str(p)), front_matter_changes(old, text)))
            report.error(rendering.position(repo), "CG708", f"{p} is {state}")
    return report.diagnostics, drifted, len(rendering.texts) + len(rendering.failed)
