"""What every command shares: the common options, the ``Command`` record that `cli.py` builds its
parser from, and ``UsageError`` (exit 2: a command used wrongly, or an optional extra missing)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.diagnostics import UsageError
from cardgen.policy import Policy
from cardgen.report import Report

__all__ = ["DEFAULT_CARDS", "DEFAULT_OUT", "Command", "Common", "UsageError", "add_jobs", "add_strict", "extra_missing"]

DEFAULT_CARDS = Path("cards")
DEFAULT_OUT = Path("rendered")


def extra_missing(extra: str, module: str) -> UsageError:
    """The usage error for an optional dependency that is not installed, with the line that installs it."""
    return UsageError(f"this needs {module}, which is not installed: python -m pip install 'cardgen[{extra}]'")


@dataclass(frozen=True)
class Common:
    """The options every command that reads cards takes."""

    paths: tuple[Path, ...] = (DEFAULT_CARDS,)
    format: str = "text"
    jobs: int | None = None  # worker processes; None: chosen from the work, the CPUs and their load
    policy: Policy = field(default_factory=Policy)  # the publisher's policy (cardgen.toml / pyproject.toml)


@dataclass(frozen=True)
class Command:
    """One subcommand: how the parser offers it, how its typed options are made, and what runs."""

    name: str
    help: str
    example: str
    arguments: Callable[[argparse.ArgumentParser], None]
    options: Callable[[argparse.Namespace, dict[str, Any]], Any]  # (parsed args, the common options) -> options
    run: Callable[[Any], tuple[Report, int]]
    paths: bool = True  # takes PATH arguments (cards folders, card folders, sources, READMEs); and the policy
    formats: tuple[str, ...] | None = None  # the --format choices; None: every reporter
    default_format: str = "text"


def add_jobs(p: argparse.ArgumentParser) -> None:
    """--jobs and --no-cache, for the commands that go through the pipeline."""
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes (default: from the number of cards, the CPUs this process may use and "
                        "how busy they are)")
    p.add_argument("--no-cache", action="store_true",
                   help="neither read nor keep the dependency graph and compiled templates of earlier runs")


def add_strict(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strict", action="store_true", help="treat warnings as errors (exit 1)")
