"""The in-memory run: scope → load → resolve → check → render → lint, every card held.

``render_all`` validates and renders every card of a selection and keeps the cards (library,
preview, publish, smoke and import need them); ``render_one`` renders and lints one card. The
graph-backed run of validate, render and check, which keeps only texts and replays the folders
whose inputs did not change, is ``incremental``; writing the READMEs is ``write``, comparing them
with the committed ones ``drift``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen.cache import FileView, RunCache
from cardgen.diagnostics import Collector, Diagnostic, Where, error
from cardgen.loading.scope import Selection
from cardgen.parallel import map_items
from cardgen.policy import Policy

if TYPE_CHECKING:
    from cardgen.card import Card


@dataclass
class Rendering:
    """What a render produced: README texts, the problems found, and which cards failed."""

    texts: Mapping[str, str] = field(default_factory=dict)  # repo id -> README (``Texts``: read when asked for)
    same: set[str] = field(default_factory=set)  # repo ids whose committed README is known to equal the text
    diagnostics: list[Diagnostic] = field(default_factory=list)
    cards: dict[str, Card] = field(default_factory=dict)  # repo id -> card (not kept by the incremental run)
    failed: list[str] = field(default_factory=list)  # repo ids not rendered (invalid or lint errors)
    extras: dict[str, dict[str, str]] = field(default_factory=dict)  # repo id -> files beside its README
    where: dict[str, tuple[str, tuple[Any, ...]]] = field(default_factory=dict)  # repo id -> its repo id's place
    unaffected: int = 0  # cards left alone: none of their inputs changed (`--changed-since`)
    folders: int = 0  # card folders gone through the dependency graph
    rebuilt: int = 0  # of those, the ones loaded, checked and rendered again (the others replayed)
    indexed: int = 0  # of the others, the ones the scope's index vouched for (``pipeline.index``)

    def graph_note(self) -> str:
        said = f" ({self.indexed} vouched for by the scope's index)" if self.indexed else ""
        return (f"dependency graph: {self.rebuilt} of {self.folders} card folders rebuilt, the others unchanged "
                f"since the last run{said}")

    def position(self, repo: str) -> Where:
        """Where a rendered repository is named in its sources."""
        from cardgen.loading.yamlpos import locate

        file, path = self.where[repo]
        return locate(file, path)


def affected(card: Card, changed: frozenset[str] | None, view: FileView) -> bool:
    """Whether a card must be rendered again: no change set given, one of its inputs changed, or its
    committed README did (``repo:<id>`` in the set)."""
    return changed is None or f"repo:{card.repo_id}" in changed or bool(card.inputs(view) & changed)


def render_all(selection: Selection, jobs: int | None = None, policy: Policy | None = None,
               changed: frozenset[str] | None = None) -> Rendering:
    """Validate and render in memory, every card kept (``Rendering.cards``); cards with errors are not
    rendered. With ``changed``, only the cards ``affected`` by those files are rendered."""
    from cardgen.evals.entries import eval_files
    from cardgen.pipeline.validate import validate_scope

    out = Rendering()
    report = Collector()
    cache = RunCache()
    for scope in selection.scopes:
        res = validate_scope(scope, jobs, policy)
        report.extend(res.diagnostics)
        bad_files = {d.file for d in res.errors}
        todo = []
        for card in res.cards:
            if not affected(card, changed, cache.files):
                out.unaffected += 1
                continue
            (out.failed.append(card.repo_id) if card.built_from() & bad_files else todo.append(card))
        rendered = map_items(partial(render_one, cache=cache), todo, jobs)
        for card, (text, diags) in zip(todo, rendered, strict=True):
            report.extend(diags)
            if text is None:
                out.failed.append(card.repo_id)
            else:
                assert isinstance(out.texts, dict)
                out.texts[card.repo_id] = text
                if extra := eval_files(card):
                    out.extras[card.repo_id] = extra
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
    # each run of 1, 2 and 3 lines, stripped, with the first two places it is written: a line is placed
    # where its run is written once (a README with thousands of lint problems is placed in linear time)
    index: dict[tuple[str, ...], list[tuple[Any, int]]] = {}
    for size in (3, 2, 1):
        for lines, place in stripped:
            for k in range(len(lines) - size + 1):
                hits = index.setdefault(tuple(lines[k:k + size]), [])
                if len(hits) < 2:
                    hits.append((place, k))

    def find(readme: list[str], n: int) -> Where:
        for size in (3, 2, 1):
            want = tuple(x.strip() for x in readme[n - 1:n - 1 + size])
            if len(want) < size or not want[0]:
                continue
            hits = index.get(want, [])
            if len(hits) == 1:
                place, k = hits[0]
                return place(k)
        return card.where()

    return find
