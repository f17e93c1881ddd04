"""The `cardgen` command: build the parser from the command registry (``cardgen.commands``), parse the
command line into the command's typed options, run it, print its report through the reporter
``--format`` names, exit.

Exit codes: 0 clean, 1 problems found, 2 usage error (or a missing optional extra), 3 a bug in
cardgen (one line, never a traceback; ``CARDGEN_DEBUG=1`` shows it), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from cardgen import console
from cardgen.commands import MODULES
from cardgen.commands.base import Command, UsageError, add_strict, gate
from cardgen.diagnostics import one_line
from cardgen.report import REPORTERS, Report


def commands(only: str | None = None) -> dict[str, Command]:
    """Every command, by name, in the order the help lists them; or, with ``only``, that command alone
    (its module alone is imported: `cardgen validate` loads none of the other commands' modules)."""
    out: dict[str, Command] = {}
    for module in dict.fromkeys([MODULES[only]] if only in MODULES else MODULES.values()):
        for cmd in importlib.import_module(f"cardgen.commands.{module}").COMMANDS:
            if only is None or cmd.name == only:
                out[cmd.name] = cmd
    return out


def build_parser(registry: dict[str, Command] | None = None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="cardgen", description="Model cards from YAML sources: validate, render, check, publish, smoke-test.")
    ap.add_argument("--version", action="store_true", help="print the version and the Hub vocabulary it carries")
    sub = ap.add_subparsers(dest="command")
    for cmd in (registry or commands()).values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help, epilog=f"example: {cmd.example}")
        if cmd.paths:
            p.add_argument("paths", nargs="*", metavar="PATH",
                           help="cards folders, card folders, source files or README files (default: cards/)")
        p.add_argument("--format", choices=cmd.formats or tuple(REPORTERS), default=cmd.default_format)
        loud = p.add_mutually_exclusive_group()
        loud.add_argument("-q", "--quiet", action="store_true", help="only errors and the summary")
        loud.add_argument("-v", "--verbose", action="store_true",
                          help="also the rule behind each diagnostic (the Hub's, or cardgen's)")
        if strict(cmd):
            add_strict(p)
        cmd.arguments(p)
    return ap


def strict(cmd: Command) -> bool:
    """Whether a command reports diagnostics, and so takes --strict (warnings fail)."""
    return cmd.paths if cmd.strict is None else cmd.strict


def _paths(args: argparse.Namespace) -> tuple[Path, ...]:
    paths = tuple(Path(p) for p in (args.paths or ["cards"]))
    for p in paths:
        if not p.exists():
            raise UsageError(f"{p}: no such file or folder")
    return paths


def emit(report: Report, fmt: str) -> None:
    """Print a report. A format that is no reporter's (an artefact format, `export --format jsonld`)
    means the command's lines are the artefact, alone on stdout, and the rest goes to stderr as text."""
    if fmt not in REPORTERS:
        sys.stdout.writelines(line if line.endswith("\n") else line + "\n" for line in report.lines)
        report.lines = []
        REPORTERS["text"](out=sys.stderr).emit(report)
        return
    REPORTERS[fmt]().emit(report)


@contextlib.contextmanager
def _cache_off(off: bool) -> Iterator[None]:
    """`--no-cache` for this command alone: the cache folder is off while it runs, as it was after (a library
    caller or a test running several commands in one process keeps its own setting)."""
    if not off:
        yield
        return
    from cardgen.cache import folder

    before = os.environ.get("CARDGEN_CACHE_DIR")
    os.environ["CARDGEN_CACHE_DIR"] = "off"
    folder.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CARDGEN_CACHE_DIR", None)
        else:
            os.environ["CARDGEN_CACHE_DIR"] = before
        folder.cache_clear()


def version_text() -> str:
    from cardgen import hubspec
    from cardgen.version import __version__

    return f"cardgen {__version__}\nHub vocabulary: {hubspec.snapshot()}"


#: the allocations between two collections of the youngest generation of cyclic garbage (Python's default
#: is 700): a run builds and drops many short-lived objects (YAML nodes, tokens, template contexts) and,
#: at the default, spends a tenth of a 10,000-card render walking the ones that live on; the cycles a run
#: leaves (a resolver and its cards) are still collected, a few megabytes later
GC_YOUNG = 10_000


def main(argv: list[str] | None = None) -> int:
    # The card models are plain pydantic; scanning every installed distribution for pydantic
    # plugins costs more than validating a card. A user who wants plugins sets the variable.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if argv is None:  # cardgen's own process (not a caller's): see ``GC_YOUNG``
        import gc

        gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        # `cardgen NAME ...`: the parser of that command alone; anything else (help, a wrong name): all
        registry = commands(argv[0] if argv and argv[0] in MODULES else None)
        ap = build_parser(registry)
        args = ap.parse_args(argv)
        if args.version:
            print(version_text())
            return 0
        if args.command is None:
            ap.print_usage(sys.stderr)
            return 2
        console.VERBOSITY = -1 if args.quiet else 1 if args.verbose else 0
        cmd = registry[args.command]
        common: dict[str, object] = {"format": args.format}
        if cmd.paths:
            common["paths"] = _paths(args)
        policy = None
        if cmd.paths or strict(cmd):  # the publisher's policy: its severities apply to whatever a command reports
            from cardgen.policy import find

            common["policy"] = policy = find()
        if strict(cmd):
            common["strict"] = args.strict
        with _cache_off(getattr(args, "no_cache", False)):
            report, code = cmd.run(cmd.options(args, common))
        code = gate(report, code, bool(common.get("strict")), policy)
        emit(report, args.format)
        return code
    except UsageError as e:
        print(f"cardgen: error: {one_line(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `cardgen ... | head`
        sys.stderr.close()
        return 0
    except Exception as e:  # a bug: one line, never a traceback (set CARDGEN_DEBUG=1 for it)
        if os.environ.get("CARDGEN_DEBUG"):
            raise
        print(f"cardgen: internal error: {type(e).__name__}: {one_line(str(e))} (set CARDGEN_DEBUG=1 for details)",
              file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
