"""cardgen: model cards and risk documentation for the Hugging Face Hub, from YAML sources.

The Python API mirrors the commands:

    import cardgen
    results = cardgen.validate(["cards"])        # list[Result]: cards + diagnostics
    readmes, diags, _ = cardgen.render(["cards"])   # {repo_id: README text}, diagnostics

Heavy modules (Jinja, markdown-it, huggingface_hub, transformers) are imported only by the
functions that need them, so that `cardgen validate` stays fast enough for a pre-commit hook.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def load(path="cards"):
    """Load and resolve the sources under ``path``: returns (cards, diagnostics)."""
    from .validate import validate_sources

    cards, diags = [], []
    for res in validate_sources([Path(path)]):
        cards += res.cards
        diags += res.diagnostics
    return cards, diags


def validate(paths=("cards",)):
    """Validate sources; returns a list of ``validate.Result`` (one per cards folder)."""
    from .validate import validate_sources

    return validate_sources([Path(p) for p in paths])


def render(paths=("cards",)):
    """Render every card under ``paths``; returns ({repo_id: README text}, diagnostics, {repo_id: Card})."""
    from .output import render_all

    return render_all([Path(p) for p in paths])
