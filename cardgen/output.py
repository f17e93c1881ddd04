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

from .diagnostics import Diagnostic, error, sort_unique
from .lint import lint
from .parallel import map_items
from .render import DIGEST, RenderError, render_card
from .resolve import Card
from .validate import validate_sources


def readme_path(out: Path, repo_id: str) -> Path:
    return out / repo_id / "README.md"


@dataclass
class Rendering:
    texts: dict[str, str] = field(default_factory=dict)  # repo id -> README
    diagnostics: list[Diagnostic] = field(default_factory=list)
    cards: dict[str, Card] = field(default_factory=dict)  # repo id -> card, rendered ones
    failed: list[str] = field(default_factory=list)  # repo ids not rendered (invalid or lint errors)

    def __iter__(self):  # texts, diagnostics, cards = render_all(...)
        return iter((self.texts, self.diagnostics, self.cards))


def render_all(paths: list[Path], jobs: int | None = None) -> Rendering:
    """Validate and render; cards with errors are not rendered. Large batches are rendered and
    linted by ``jobs`` worker processes (default: one per CPU)."""
    from .render import _search_path, environment

    environment.cache_clear()  # templates are read afresh by each run, then cached within it
    _search_path.cache_clear()
    out = Rendering()
    for res in validate_sources(paths, jobs):
        out.diagnostics += res.diagnostics
        bad_files = {d.file for d in res.errors}
        todo = []
        for card in res.cards:
            files = {s.file for s in card.origin.values()} | {card.src.file}
            (out.failed.append(card.repo_id) if files & bad_files else todo.append(card))
        rendered = map_items(partial(render_one, resolver=res.resolver, root=res.root), todo, jobs)
        for card, (text, diags) in zip(todo, rendered):
            out.diagnostics += diags
            if text is None:
                out.failed.append(card.repo_id)
            else:
                out.texts[card.repo_id] = text
                out.cards[card.repo_id] = card
    out.diagnostics = sort_unique(out.diagnostics)
    return out


def render_one(card: Card, resolver, root: Path) -> tuple[str | None, list[Diagnostic]]:
    """Render and lint one card: (README or None, diagnostics)."""
    try:
        text = render_card(card, resolver, root)
    except RenderError as e:
        return None, e.diags
    marker = DIGEST.search(text)
    problems = lint(text, (card.repo_id, card.name, card.repo_name, marker.group(1) if marker else ""))
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
    texts, diags, _ = render_all(paths)
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
    texts, diags, cards = render_all(paths)
    diffs = []
    for repo, text in sorted(texts.items()):
        p = readme_path(out, repo)
        old = p.read_text("utf-8") if p.is_file() else None
        if old != text:
            diffs.append(unified(old, text, str(p)))
            f, pos = cards[repo].where()
            diags.append(error(f, pos, "CG708", f"{p} is {'missing' if old is None else 'out of date'}"))
    return sort_unique(diags), diffs
