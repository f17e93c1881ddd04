"""Validation of card sources: load the sources of a scope, resolve them and run every rule.

It imports no Jinja, markdown-it or transformers; the runs then render and lint the valid cards
(``run.render_all`` in memory; ``incremental``, which checks shard by shard with ``check_project``,
for `cardgen validate`, `render` and `check`). Published READMEs are checked by ``readme.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cardgen.card import Card
from cardgen.diagnostics import Collector, Diagnostic
from cardgen.loading.scope import Scope, card_folders
from cardgen.loading.sources import Project, load_card, load_project
from cardgen.pipeline.gate import unbuilt
from cardgen.policy import Policy, required_keys
from cardgen.resolve import Resolver, targets
from cardgen.rules import run as rules


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
        # an error outside the paths given (in a base card) stops a card inside them: said at that card
        hidden = (policy or Policy()).apply([d for d in report.diagnostics if not scope.keeps(d.file)])
        report.keep(scope.keeps)
        cards = [c for c in cards if scope.keeps(c.src.folder)]
        bad = {d.file for d in hidden if d.severity == "error"}
        report.extend(d for c in cards if bad & c.built_from()
                      and (d := unbuilt(c.repo_id, c.built_from(), c.where(), hidden)))
    return Result(scope, cards, (policy or Policy()).apply(report.diagnostics))


def load_missing_bases(project: Project) -> None:
    """When only some folders were asked for, load the cards they extend (by the usual folder name,
    else every folder)."""
    known = {repo for c in project.cards if c.model for repo, _, _ in targets(c)}
    todo = [c.model.extends for c in project.cards if c.model and c.model.extends]
    loaded: set[Path] | None = None  # the folders loaded, resolved: asked only when a base is missing
    while todo:
        repo = todo.pop()
        if repo in known:
            continue
        if loaded is None:
            loaded = {c.folder.resolve() for c in project.cards}
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
        if policy is not None and policy.required(card.src.file):
            where = card.where()  # builds the source's node positions: only when a key is required
            report.extend(required_keys(policy, card.front_matter, where.file, where))
    if catalogue:
        report.extend(rules.check_project(resolver.registry, [f for c in cards if (f := rules.risk_facts(c))]))
    return cards
