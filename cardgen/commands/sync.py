"""`cardgen sync CARD --from DIR`: the card's facts read again from the model folder. Its `folder.yaml`
(what `cardgen new --from` wrote, or a new one for the facts the card leaves out) is rewritten and the
change shown; a value the card types itself that the folder contradicts is a diagnostic naming both."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.commands.base import Command, UsageError
from cardgen.diagnostics import failed
from cardgen.policy import Policy
from cardgen.report import Report


@dataclass(frozen=True)
class SyncOptions:
    card: Path
    from_dir: Path
    dry_run: bool = False
    policy: Policy = field(default_factory=Policy)


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("card", type=Path, metavar="CARD", help="the card's folder (or one of its source files)")
    p.add_argument("--from", dest="from_dir", type=Path, required=True, metavar="DIR", help="the model's folder")
    p.add_argument("--dry-run", action="store_true", help="show the change to folder.yaml without writing it")


def options(args: argparse.Namespace, common: dict[str, Any]) -> SyncOptions:
    from cardgen.policy import find

    return SyncOptions(args.card, args.from_dir, args.dry_run, common.get("policy") or find())


def _own_keys(card_dir: Path) -> set[str]:
    """The top-level keys the card's source files other than folder.yaml write."""
    from cardgen.folder.write import NAME
    from cardgen.loading.scope import yaml_files
    from cardgen.loading.yamlpos import plain

    keys: set[str] = set()
    for f in yaml_files(card_dir):
        if f.name != NAME:
            data, _ = plain(f.read_text("utf-8"), str(f))
            keys |= set(data) if isinstance(data, dict) else set()
    return keys


def run(opts: SyncOptions) -> tuple[Report, int]:
    from cardgen.files import atomic_write, display
    from cardgen.folder.check import check_card
    from cardgen.folder.read import read_folder
    from cardgen.folder.run import selected_cards
    from cardgen.folder.write import NAME, diff, sync_text
    from cardgen.loading.scope import select

    card_dir = opts.card if opts.card.is_dir() else opts.card.parent
    if not opts.from_dir.is_dir():
        raise UsageError(f"--from {opts.from_dir}: no such folder")
    cards = selected_cards(select([card_dir]), opts.policy)
    if len(cards) != 1:
        raise UsageError(f"{card_dir}: sync takes one card folder ({len(cards)} card(s) resolve there)")
    folder = read_folder(opts.from_dir)
    lacking = {k for (k, *_rest) in folder.facts if getattr(cards[0].model, k, None) is None}
    old, new = sync_text(folder, card_dir, _own_keys(card_dir), lacking)
    report = Report("sync", checked=f"1 card against {display(opts.from_dir)}")
    report.lines = diff(old, new, display(card_dir / NAME)) or [f"{display(card_dir)}: as the folder says"]
    if new != old and not opts.dry_run:
        atomic_write(card_dir / NAME, new)
        cards = selected_cards(select([card_dir]), opts.policy) or cards
    report.diagnostics = opts.policy.apply(check_card(cards[0], folder))
    return report, int(failed(report.diagnostics))


COMMANDS = (Command("sync", "read a card's facts again from the model folder, and check the ones it types",
                    "cardgen sync cards/acme/tiny-chat-GGUF --from /models/tiny-chat-GGUF", arguments, options, run,
                    paths=False, strict=True),)
