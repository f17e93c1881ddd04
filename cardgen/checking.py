"""Validation: load the sources of a scope, resolve them and run every rule; or check a README.

This is the pre-commit path: it imports no Jinja, markdown-it or transformers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import rules
from .card import Card
from .diagnostics import Collector, Diagnostic, Where, error, sort_unique
from .files import display, read_text
from .resolve import Resolver, targets
from .scope import Scope, card_folders
from .sources import Project, load_card, load_project
from .yamlpos import loads


@dataclass
class Result:
    """The cards of one scope and what was found in them."""

    scope: Scope
    cards: list[Card] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


def validate_scope(scope: Scope, jobs: int | None = None) -> Result:
    """Load, resolve and check the cards of a scope (card folders are read by ``jobs`` worker
    processes when there are many; default: one per CPU)."""
    project = load_project(scope, jobs)
    if not scope.whole:
        load_missing_bases(project)
    report = Collector()
    cards = check_project(project, report)
    if not scope.whole:
        report.keep(scope.keeps)
        cards = [c for c in cards if scope.keeps(c.src.folder)]
    return Result(scope, cards, report.diagnostics)


def load_missing_bases(project: Project) -> None:
    """When only some folders were asked for, load the cards they extend (by the usual folder name,
    else every folder)."""
    loaded = {c.folder.resolve() for c in project.cards}
    known = {repo for c in project.cards if c.model for repo, _, _ in targets(c)}
    todo = [c.model.extends for c in project.cards if c.model and c.model.extends]
    while todo:
        repo = todo.pop()
        if repo in known:
            continue
        folder = (project.root / repo).resolve()
        candidates = [folder] if folder.is_dir() and project.root.resolve() in folder.parents else []
        candidates = candidates or card_folders(project.root)
        for f in candidates:
            if f.resolve() in loaded:
                continue
            src, diags = load_card(f, project.root)
            loaded.add(f.resolve())
            if src.docs:
                project.cards.append(src)
                project.diagnostics += diags
                if src.model:
                    known.update(repo for repo, _, _ in targets(src))
                    if src.model.extends:
                        todo.append(src.model.extends)
            if repo in known:
                break


def check_project(project: Project, report: Collector, catalogue: bool = True) -> list[Card]:
    """Resolve and check a project; returns its cards. ``catalogue=False`` leaves out the project
    rules (a worker that sees only some cards cannot judge the shared catalogues)."""
    report.extend(project.diagnostics)
    resolver = Resolver(project, report)
    cards = resolver.all_cards()
    for card in cards:
        report.extend(rules.check_card(card))
    if catalogue:
        report.extend(rules.check_project(resolver.registry, cards))
    return cards


def validate_readme(path: Path) -> list[Diagnostic]:
    """Check the front matter of a Hub README (a published card) against the Hub's rules."""
    from .frontmatter import split

    shown = display(path)
    text, diags = read_text(path, shown)
    if text is None:
        return diags
    block, body, first = split(text)
    if block is None:
        return [error(Where(shown), "CG209", "no front matter (`---` block) at the top of the README")]
    doc, d = loads(block if block.strip() else "{}", shown)
    d = [Diagnostic(x.file, x.line + first - 1, x.col, x.code, x.message, x.severity) for x in d]
    if doc is None:
        return d
    if not isinstance(doc.data, dict):
        return d + [error(Where(shown, first), "CG101", "the front matter must be a mapping")]

    def locate(p: tuple[object, ...]) -> Where:
        line, col = doc.key_pos(p) if len(p) == 1 else doc.pos(p)
        return Where(shown, line + first - 1, col)

    return sort_unique(d + rules.check_metadata(rules.Meta(doc.data, locate, body)))
