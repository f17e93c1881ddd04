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

__all__ = ["DEFAULT_CARDS", "DEFAULT_OUT", "Command", "Common", "UsageError", "add_jobs", "add_strict", "extra_missing",
           "gate"]

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
    strict: bool = False  # --strict: a warning fails the run as an error does (exit 1)


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
    strict: bool | None = None  # reports diagnostics, so takes --strict; None: when it takes PATH arguments


def add_jobs(p: argparse.ArgumentParser) -> None:
    """--jobs and --no-cache, for the commands that go through the pipeline."""
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes (default: from the number of cards, the CPUs this process may use and "
                        "how busy they are)")
    p.add_argument("--no-cache", action="store_true",
                   help="neither read nor keep the dependency graph and compiled templates of earlier runs")


def add_strict(p: argparse.ArgumentParser) -> None:
    """--strict, which `cli.py` gives every command that reports diagnostics (``Command.strict``)."""
    p.add_argument("--strict", action="store_true",
                   help="the publisher's gate: warnings fail the run as errors do (exit 1)")


def gate(report: Report, code: int, strict: bool, policy: Policy | None = None) -> int:
    """The exit code with the publisher's settings applied, in one place for every command: the policy's
    severities on every diagnostic (those the pipeline applied them to already stay as they are), so that
    a code it raises to an error fails any command that reports it; and --strict, with which a run that
    would pass fails (1) when it reported a warning, saying so. A usage error (2) or an interruption (130)
    stays as it is."""
    from cardgen.diagnostics import counts, failed, plural

    if policy is not None:
        report.diagnostics = policy.apply(report.diagnostics)
        if code == 0 and failed(report.diagnostics):
            return 1
    warnings = counts(report.diagnostics)[1]
    if not strict or code != 0 or not warnings:
        return code
    report.notes.append(f"--strict: {plural(warnings, 'warning')} {'fails' if warnings == 1 else 'fail'} this run")
    return 1
