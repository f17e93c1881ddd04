"""Validation: load the sources of a scope, resolve them and run every rule; or check a README.

This is the pre-commit path: it imports no Jinja, markdown-it or transformers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import rules
from .card import Card
from .diagnostics import Collector, Diagnostic, Where, error, sort_unique, warning
from .files import display, read_text
from .policy import Policy, required_keys
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


def validate_scope(scope: Scope, jobs: int | None = None, policy: Policy | None = None) -> Result:
    """Load, resolve and check the cards of a scope (card folders are read by ``jobs`` worker
    processes when there are many; default: one per CPU)."""
    project = load_project(scope, jobs)
    if not scope.whole:
        load_missing_bases(project)
    report = Collector()
    cards = check_project(project, report, policy=policy)
    if not scope.whole:
        report.keep(scope.keeps)
        cards = [c for c in cards if scope.keeps(c.src.folder)]
    return Result(scope, cards, (policy or Policy()).apply(report.diagnostics))


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


def check_project(project: Project, report: Collector, catalogue: bool = True,
                  policy: Policy | None = None) -> list[Card]:
    """Resolve and check a project; returns its cards. ``catalogue=False`` leaves out the project
    rules (a worker that sees only some cards cannot judge the shared catalogues)."""
    report.extend(project.diagnostics)
    resolver = Resolver(project, report)
    cards = resolver.all_cards()
    for card in cards:
        report.extend(rules.check_card(card))
        if policy is not None:
            where = card.where()
            report.extend(required_keys(policy, card.front_matter, where.file, where))
    if catalogue:
        report.extend(rules.check_project(resolver.registry, cards))
    return cards


def validate_readme(path: Path, policy: Policy | None = None) -> list[Diagnostic]:
    """Check a Hub README (a published card): its front matter against the Hub's rules, the policy's
    required keys, and its body with the output lint (as warnings: the Hub shows it regardless)."""
    from .frontmatter import split
    from .lint import lint_body

    shown = display(path)
    text, diags = read_text(path, shown)
    if text is None:
        return diags
    block, body, first = split(text)
    offset = text[: len(text) - len(body)].count("\n")
    out = [warning(Where(shown, p.line, 1), p.code, p.message) for p in lint_body(body, offset)]
    if block is None:
        out.append(warning(Where(shown), "CG209", "no front matter (`---` block) at the top of the README: the Hub "
                                                  "shows no licence, task or library for the model"))
        return sort_unique(out + required_keys(policy or Policy(), {}, shown, Where(shown)))
    doc, d = loads(block if block.strip() else "{}", shown)
    out += [Diagnostic(x.file, x.line + first - 1, x.col, x.code, x.message, x.severity) for x in d]
    if doc is None:
        return sort_unique(out)
    if not isinstance(doc.data, dict):
        return sort_unique(out + [error(Where(shown, first), "CG214", "the front matter must be a mapping of keys, "
                                                                      f"not {type(doc.data).__name__}")])
    data = {str(k): v for k, v in doc.data.items()}

    def locate(p: tuple[object, ...]) -> Where:
        line, col = doc.key_pos(p) if len(p) == 1 else doc.pos(p)
        return Where(shown, line + first - 1, col)

    out += rules.check_metadata(rules.Meta(data, locate, body))
    out += required_keys(policy or Policy(), data, shown, locate(()))
    return sort_unique(out)
