"""cardgen: model cards and risk documentation for the Hugging Face Hub, from YAML sources.

The Python API mirrors the commands:

    import cardgen
    cards, diagnostics = cardgen.load("cards")          # resolved cards and what is wrong with them
    results = cardgen.validate(["cards"])               # list[Result], one per cards folder
    rendering = cardgen.render(["cards"])               # .texts {repo_id: README}, .diagnostics, .failed

Heavy modules (huggingface_hub's HTTP client, rdflib, transformers) are imported only by the
functions that need them, so that `cardgen validate` stays fast enough for a pre-commit hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from cardgen.version import __version__

if TYPE_CHECKING:
    from cardgen.card import Card
    from cardgen.diagnostics import Diagnostic
    from cardgen.pipeline.run import Rendering
    from cardgen.pipeline.validate import Result

__all__ = ["__version__", "load", "render", "validate"]


def load(path: str | Path = "cards") -> tuple[list[Card], list[Diagnostic]]:
    """Load, resolve and check the sources under ``path``: (cards, diagnostics)."""
    cards: list[Card] = []
    diags: list[Diagnostic] = []
    for res in validate([path]):
        cards += res.cards
        diags += res.diagnostics
    return cards, diags


def validate(paths: Iterable[str | Path] = ("cards",)) -> list[Result]:
    """Validate sources; one ``validate.Result`` per cards folder."""
    from cardgen.loading.scope import select
    from cardgen.pipeline.validate import validate_scope

    return [validate_scope(scope) for scope in select([Path(p) for p in paths]).scopes]


def render(paths: Iterable[str | Path] = ("cards",)) -> Rendering:
    """Render every card under ``paths`` in memory."""
    from cardgen.loading.scope import select
    from cardgen.pipeline.run import render_all

    return render_all(select([Path(p) for p in paths]))
