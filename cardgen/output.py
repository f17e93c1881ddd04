"""Write rendered READMEs atomically, and compare them with what is committed (drift).

A README is written to a temporary file beside it and renamed over the old one, so a failed or
interrupted render never leaves a half-written or emptied README behind.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

# a batch judges many repo ids: import the Hub's validator once, before workers are forked
import huggingface_hub.utils._validators  # noqa: F401,E402

from . import risks
from .diagnostics import Diagnostic, error, sort_unique
from .lint import lint
from .parallel import default_jobs, map_items, worth_forking
from .render import DIGEST, RenderError, render_card
from .resolve import Card, Resolver, _targets, described_twice
from .sources import Project, load_card, load_shared, locate, wanted_folders
from .validate import check_project, groups, is_whole, keeps, load_missing_bases, validate_group


def readme_path(out: Path, repo_id: str) -> Path:
    return out / repo_id / "README.md"


@dataclass
class Rendering:
    texts: dict[str, str] = field(default_factory=dict)  # repo id -> README
    diagnostics: list[Diagnostic] = field(default_factory=list)
    cards: dict[str, Card] = field(default_factory=dict)  # repo id -> card, rendered ones (see keep_cards)
    failed: list[str] = field(default_factory=list)  # repo ids not rendered (invalid or lint errors)
    where: dict[str, tuple[str, tuple]] = field(default_factory=dict)  # repo id -> (file, path) of its repo id

    def __iter__(self):  # texts, diagnostics, cards = render_all(...)
        return iter((self.texts, self.diagnostics, self.cards))

    def position(self, repo: str) -> tuple[str, tuple[int, int]]:
        """File, line and column where a rendered repository is named in its sources."""
        file, path = self.where[repo]
        return file, locate(file, path)


def render_all(paths: list[Path], jobs: int | None = None, keep_cards: bool = True) -> Rendering:
    """Validate and render; cards with errors are not rendered. Large batches are spread over
    ``jobs`` worker processes (default: one per CPU).

    With ``keep_cards=False`` (rendering and drift checks, which need only the texts) a large batch
    is validated, rendered and linted shard by shard inside the workers, so that no card travels
    between processes; ``Rendering.cards`` then stays empty.
    """
    from .render import _search_path, environment, partial_template

    environment.cache_clear()  # templates are read afresh by each run, then cached within it
    _search_path.cache_clear()
    partial_template.cache_clear()
    out = Rendering()
    for root, wanted in groups(paths).items():
        folders = wanted_folders(root, None if is_whole(root, wanted) else wanted)
        if not keep_cards and worth_forking(len(folders), jobs):
            _render_shards(root, wanted, folders, jobs, out)
            continue
        res = validate_group(root, wanted, jobs)
        out.diagnostics += res.diagnostics
        bad_files = {d.file for d in res.errors}
        todo = []
        for card in res.cards:
            (out.failed.append(card.repo_id) if _files(card) & bad_files else todo.append(card))
        rendered = map_items(partial(render_one, resolver=res.resolver, root=res.root), todo, jobs)
        for card, (text, diags) in zip(todo, rendered):
            out.diagnostics += diags
            if text is None:
                out.failed.append(card.repo_id)
            else:
                out.texts[card.repo_id] = text
                out.cards[card.repo_id] = card
                out.where[card.repo_id] = card.where_path()
    out.diagnostics = sort_unique(out.diagnostics)
    return out


def _files(card: Card) -> set[str]:
    """The source files a card's content comes from (its own and its base's)."""
    return {s.file for s in card.origin.values()} | {card.src.file}


@dataclass
class _Shard:
    diagnostics: list[Diagnostic]
    rendered: list[tuple[str, str | None, list[Diagnostic], set[str], tuple]]  # repo, text, diags, files, where
    targets: list[tuple[str, str, tuple]]  # repo id, file, path
    risk_cards: list[Card]  # for the catalogue checks, which need every card


def _render_shard(folders: list[Path], root: Path, shared: list) -> _Shard:
    """Load, check, render and lint the cards of some folders (in a worker process)."""
    project = Project(root, shared=list(shared))
    for folder in folders:
        src, d = load_card(folder, root)
        project.diagnostics += d
        if src.docs:
            project.cards.append(src)
    mine = set(folders)
    targets = [(repo, src.doc_for(path).file, path) for src in project.cards if src.model
               for repo, _, path in _targets(src)]
    load_missing_bases(project)  # cards they extend, from other shards: resolved here, rendered there
    res = check_project(project, catalogue=False)
    bad_files = {d.file for d in res.errors}
    rendered = []
    for card in res.cards:
        if card.src.folder not in mine:
            continue
        files = _files(card)
        text, diags = (None, []) if files & bad_files else render_one(card, res.resolver, root)
        rendered.append((card.repo_id, text, diags, files, card.where_path()))
    risk_cards = [c for c in res.cards if c.src.folder in mine and c.model.risk_assessment]
    return _Shard(res.diagnostics, rendered, targets, risk_cards)


def _render_shards(root: Path, wanted: list[Path], folders: list[Path], jobs: int | None, out: Rendering) -> None:
    base = load_shared(root)
    work = partial(_render_shard, root=root, shared=base.shared)
    # The first card is rendered here, before the fork: the workers inherit the compiled templates
    # and the lint of the parts every card shares instead of each building them again.
    first_shard = work(folders[:1])
    rest = folders[1:]
    n = max(1, min(len(rest), (jobs or default_jobs()) * 4))  # a few shards per worker evens out the load
    size = -(-len(rest) // n)
    shards = [rest[i:i + size] for i in range(0, len(rest), size)]
    results = [first_shard] + map_items(work, shards, jobs, min_items=1)
    diags = list(base.diagnostics)
    # what a single resolver sees across shards: a repo described twice, the catalogue against every card
    first: dict[str, tuple[int, str]] = {}
    bad_files: set[str] = set()
    again: set[tuple[str, str]] = set()  # (repo id, file) of a second description: not a card at all
    for i, shard in enumerate(results):
        diags += shard.diagnostics
        for repo, file, path in shard.targets:
            if repo not in first:
                first[repo] = (i, file)
            elif first[repo][0] != i:  # within one shard its own resolver reported it
                diags.append(described_twice(repo, (file, locate(file, path)), first[repo][1]))
                bad_files.add(file)
                again.add((repo, file))
    diags += risks.check_catalogue(Resolver(base), [c for s in results for c in s.risk_cards])
    for shard in results:
        for repo, text, rdiags, files, where in shard.rendered:
            if (repo, where[0]) in again:
                continue
            diags += rdiags
            if text is None or files & bad_files:
                out.failed.append(repo)
            else:
                out.texts[repo] = text
                out.where[repo] = where
    if not is_whole(root, wanted):
        keep = keeps(root, wanted)
        diags = [d for d in diags if keep(d.file)]
    out.diagnostics += diags


def render_one(card: Card, resolver, root: Path) -> tuple[str | None, list[Diagnostic]]:
    """Render and lint one card: (README or None, diagnostics)."""
    try:
        text = render_card(card, resolver, root)
    except RenderError as e:
        return None, e.diags
    marker = DIGEST.search(text)  # cardgen's own closing comment: nothing in it to lint
    problems = lint(text[:marker.start() + 1] if marker else text, (card.repo_id, card.name, card.repo_name))
    if problems:
        f, p = card.where()
        return None, [error(f, p, code, f"{card.repo_id} README line {ln}: {msg}") for ln, code, msg in problems]
    return text, []


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def render_to(paths: list[Path], out: Path) -> tuple[list[Diagnostic], list[tuple[Path, str]]]:
    texts, diags, _ = render_all(paths, keep_cards=False)
    written = []
    for repo, text in sorted(texts.items()):
        p = readme_path(out, repo)
        try:
            old = p.read_text("utf-8") if p.is_file() else None
        except (OSError, UnicodeDecodeError):
            old = None
        if old == text:
            written.append((p, "unchanged"))
            continue
        atomic_write(p, text)
        written.append((p, "written"))
    return diags, written


def unified(old: str | None, new: str, path: str) -> str:
    return "".join(difflib.unified_diff(
        (old or "").splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f"a/{path}" if old is not None else "/dev/null", tofile=f"b/{path}"))


def drift(paths: list[Path], out: Path) -> tuple[list[Diagnostic], list[str]]:
    """Render in memory and diff against the committed READMEs under ``out``."""
    rendering = render_all(paths, keep_cards=False)
    texts, diags = rendering.texts, rendering.diagnostics
    diffs = []
    for repo, text in sorted(texts.items()):
        p = readme_path(out, repo)
        old = p.read_text("utf-8") if p.is_file() else None
        if old != text:
            diffs.append(unified(old, text, str(p)))
            f, pos = rendering.position(repo)
            diags.append(error(f, pos, "CG708", f"{p} is {'missing' if old is None else 'out of date'}"))
    return sort_unique(diags), diffs
