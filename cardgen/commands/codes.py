"""`cardgen codes`: every diagnostic code, its severity, and the rule it enforces (the Hub's, or cardgen's)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from cardgen.commands.base import Command
from cardgen.diagnostics import plural
from cardgen.report import Report

HEAD = ("An error is what the Hub refuses or misreads (the rule is named in brackets); a warning is what it\n"
        "accepts but shows badly. A policy (cardgen.toml or [tool.cardgen]) may change either, or turn it off.\n")


@dataclass(frozen=True)
class CodesOptions:
    pass


def arguments(p: argparse.ArgumentParser) -> None:
    pass


def options(args: argparse.Namespace, common: dict[str, Any]) -> CodesOptions:
    return CodesOptions()


def every_code() -> list[Any]:
    """The table, with every module that declares codes imported."""
    import cardgen.commands.import_  # noqa: F401 - they declare their codes
    import cardgen.folder.codes  # noqa: F401
    import cardgen.lint  # noqa: F401
    import cardgen.policy  # noqa: F401
    import cardgen.rules.run  # noqa: F401
    import cardgen.smoke.codes  # noqa: F401
    from cardgen.diagnostics import CODES

    return sorted(CODES.values(), key=lambda c: c.code)


def run(opts: CodesOptions) -> tuple[Report, int]:
    codes = every_code()
    report = Report("codes", checked=plural(len(codes), "code"))
    report.lines = [HEAD] + [f"{c.code}  {c.severity:7}  {c.title}" + (f"  [{c.rule}]" if c.rule != "cardgen" else "")
                             for c in codes]
    report.results = codes
    return report, 0


COMMANDS = (Command("codes", "list the diagnostic codes, their severity and the rule each enforces", "cardgen codes",
                    arguments, options, run, paths=False),)
