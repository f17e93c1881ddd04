"""The model-folder checks over a selection of cards, for `validate` (`--model-dir`, or each card's
`model_dir:`) and for `sync`. Cards are resolved again only when a folder is in play: a `validate`
without one costs a look at the selected sources' text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from cardgen.diagnostics import Diagnostic
from cardgen.loading.scope import yaml_files

if TYPE_CHECKING:
    from cardgen.card import Card
    from cardgen.loading.scope import Selection
    from cardgen.policy import Policy

_MODEL_DIR = re.compile(rb"(?m)^model_dir\s*:")


def names_a_folder(selection: Selection) -> bool:
    """Whether a selected card source writes `model_dir:` (a look at the text, no YAML parsed)."""
    for scope in selection.scopes:
        for folder in scope.folders():
            for f in yaml_files(folder):
                try:
                    if _MODEL_DIR.search(f.read_bytes()):
                        return True
                except OSError:
                    continue
    return False


def selected_cards(selection: Selection, policy: Policy | None = None) -> list[Card]:
    """The selected cards, resolved (those that resolve)."""
    from cardgen.pipeline.validate import validate_scope

    return [c for scope in selection.scopes for c in validate_scope(scope, None, policy).cards]


def folder_checks(selection: Selection, model_dir: Path | None, policy: Policy) -> list[Diagnostic]:
    """The folder checks of the selected cards: against ``model_dir`` (one card only), else each card's own."""
    if model_dir is None and not names_a_folder(selection):
        return []
    from cardgen.diagnostics import UsageError
    from cardgen.folder.check import check_card
    from cardgen.folder.read import read_folder

    cards = selected_cards(selection, policy)
    if model_dir is not None and len(cards) != 1:
        raise UsageError(f"--model-dir checks one card against its folder; the paths given select {len(cards)}")
    out: list[Diagnostic] = []
    for card in cards:
        out += check_card(card, read_folder(model_dir) if model_dir is not None else None)
    return policy.apply(out)
