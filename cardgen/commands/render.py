"""`cardgen render`, `check` and `diff`: write the READMEs, or compare the committed ones with what the
sources give (`check` fails on a difference, `diff` shows it), through the dependency graph."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardgen import console
from cardgen.commands.base import DEFAULT_OUT, Command, Common, UsageError, add_jobs
from cardgen.diagnostics import failed, plural
from cardgen.report import Change, Drifted, Report


@dataclass(frozen=True)
class Written:
    """A README `render` wrote, or found unchanged."""

    readme: str
    state: str  # written | unchanged


@dataclass(frozen=True)
class RenderOptions(Common):
    out: Path = DEFAULT_OUT
    changed_since: str | None = None  # a git revision: only the cards whose inputs changed since
    changed: tuple[Path, ...] = ()  # only the cards built from these files (dependents included)


@dataclass(frozen=True)
class CheckOptions(RenderOptions):
    fail: bool = True  # `check` fails on drift; `diff` only shows it


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT}/)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--changed-since", metavar="REF",
                       help="only the cards whose inputs (sources, shared entries, bases, templates, vocabulary) "
                            "or committed README changed since this git revision, dependents included")
    which.add_argument("--changed", nargs="+", type=Path, metavar="FILE",
                       help="only the cards built from these files (the pre-commit hook's file list), dependents "
                            "included")
    add_jobs(p)


def render_options(args: argparse.Namespace, common: dict[str, Any]) -> RenderOptions:
    return RenderOptions(**common, out=args.out, jobs=args.jobs, changed_since=args.changed_since,
                         changed=tuple(args.changed or ()))


def check_options(args: argparse.Namespace, common: dict[str, Any]) -> CheckOptions:
    return CheckOptions(**common, out=args.out, jobs=args.jobs, fail=args.command == "check",
                        changed_since=args.changed_since, changed=tuple(args.changed or ()))


def changed_files(ref: str | None, paths: tuple[Path, ...], files: tuple[Path, ...] = ()) -> frozenset[str] | None:
    """The change set a run is limited to: the files given, or those changed since a git revision."""
    from cardgen.files import changed_since

    if files:  # a file that is gone (deleted in the commit) still names the cards built from it
        return frozenset(os.path.realpath(f) for f in files)
    if ref is None:
        return None
    try:
        return changed_since(ref, paths[0] if paths else Path("."))
    except ValueError as e:
        raise UsageError(f"--changed-since {ref}: {e}") from None


def render(opts: RenderOptions) -> tuple[Report, int]:
    from cardgen.loading.scope import select
    from cardgen.pipeline.write import render_to

    graph: list[str] = []
    diags, written = render_to(select(list(opts.paths)), opts.out, opts.jobs, opts.policy,
                               changed_files(opts.changed_since, opts.paths, opts.changed), graph)
    report = Report("render", diags, checked=plural(sum(p.name == "README.md" for p, _ in written), "README"))
    report.notes = [f"{state:9} {p}" for p, state in written]
    if console.VERBOSITY > 0:
        report.notes += graph
    if opts.changed_since:
        report.notes.append(f"only the cards whose inputs changed since {opts.changed_since} were rendered")
    elif opts.changed:
        report.notes.append(f"only the cards built from the {plural(len(opts.changed), 'file')} given were rendered")
    report.results = [Written(str(p), state) for p, state in written]
    return report, int(failed(diags))


def check(opts: CheckOptions) -> tuple[Report, int]:
    from cardgen.loading.scope import select
    from cardgen.pipeline.drift import drift

    graph: list[str] = []
    diags, drifted, checked = drift(select(list(opts.paths)), opts.out, opts.jobs, opts.policy,
                                    changed_files(opts.changed_since, opts.paths, opts.changed), graph)
    if not opts.fail:  # `diff` shows the differences; they are not problems
        diags = [d for d in diags if d.code != "CG708"]
    report = Report("check" if opts.fail else "diff", diags, checked=plural(checked, "card"))
    report.lines = [d.diff for d in drifted]
    report.results = [Drifted(str(d.readme), d.state, d.diff, [Change(k, a, b) for k, a, b in d.front_matter])
                      for d in drifted]
    if drifted and opts.fail:
        report.notes = [f"{plural(len(drifted), 'README')} differ from the sources; run `cardgen render`"]
    if console.VERBOSITY > 0:
        report.notes += graph
    return report, int((opts.fail and bool(drifted)) or failed(diags))


COMMANDS = (
    Command("render", "render README.md files", "cardgen render cards/stabilityai --out rendered/", arguments,
            render_options, render),
    Command("check", "fail with a diff when a committed README differs from its sources",
            "cardgen check   # exit 1 with a diff when rendered/ is stale", arguments, check_options, check),
    Command("diff", "show how committed READMEs differ from their sources", "cardgen diff cards/TheBloke",
            arguments, check_options, check),
)
