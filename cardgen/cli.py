"""The `cardgen` command. Each subcommand is thin: parse arguments, call the API, report, exit.

Exit codes: 0 clean, 1 problems found, 2 usage error (or a missing optional extra).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .diagnostics import CODES, Diagnostic, report

DEFAULT_CARDS = Path("cards")
DEFAULT_OUT = Path("rendered")


class UsageError(Exception):
    pass


def _paths(args) -> list[Path]:
    paths = [Path(p) for p in (args.paths or [DEFAULT_CARDS])]
    for p in paths:
        if not p.exists():
            raise UsageError(f"{p}: no such file or folder")
    return paths


def _emit(diags: list[Diagnostic], fmt: str, stream=None) -> None:
    text = report(diags, fmt)
    if text:
        print(text, file=stream or sys.stdout)


def _status(diags: list[Diagnostic], strict: bool) -> int:
    return 1 if any(d.severity == "error" or strict for d in diags) else 0


def _summary(diags: list[Diagnostic], what: str) -> str:
    e = sum(d.severity == "error" for d in diags)
    w = len(diags) - e
    return f"{what}: {e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}"


# -- commands -------------------------------------------------------------------------------
def cmd_validate(args) -> int:
    from .validate import is_readme, validate_readme, validate_sources

    paths = _paths(args)
    diags: list[Diagnostic] = []
    sources = [p for p in paths if not is_readme(p)]
    ncards = 0
    for res in validate_sources(sources) if sources else []:
        diags += res.diagnostics
        ncards += len(res.cards)
    nreadme = 0
    for p in paths:
        if is_readme(p):
            nreadme += 1
            diags += validate_readme(p)
    _emit(diags, args.format)
    if args.format == "text":
        what = f"{ncards} card{'s' * (ncards != 1)}" + (f", {nreadme} README" if nreadme else "")
        print(_summary(diags, what), file=sys.stderr)
    return _status(diags, args.strict)


def cmd_schema(args) -> int:
    from .schema import write_schemas

    for p in write_schemas(Path(args.out)):
        print(p)
    return 0


def cmd_codes(args) -> int:
    for code, text in CODES.items():
        print(f"{code}  {text}")
    return 0


def cmd_render(args) -> int:
    from .output import render_to

    diags, written = render_to(_paths(args), Path(args.out) if args.out else DEFAULT_OUT)
    _emit(diags, args.format)
    for p, state in written:
        print(f"{state:9} {p}", file=sys.stderr)
    return _status(diags, False)


def cmd_check(args, fail: bool = True) -> int:
    from .output import drift

    diags, diffs = drift(_paths(args), Path(args.out) if args.out else DEFAULT_OUT)
    if not fail:  # `diff` shows the differences; they are not problems
        diags = [d for d in diags if d.code != "CG708"]
    _emit(diags, args.format)
    for d in diffs:
        sys.stdout.write(d)
    if diffs and fail:
        print(f"{len(diffs)} README{'s' * (len(diffs) != 1)} differ from the sources; run `cardgen render`",
              file=sys.stderr)
    return 1 if (fail and diffs) or _status(diags, False) else 0


def cmd_diff(args) -> int:
    return cmd_check(args, fail=False)


def cmd_export(args) -> int:
    import json

    from .validate import validate_sources
    from . import risks

    out, diags = [], []
    for res in validate_sources(_paths(args)):
        diags += res.diagnostics
        out += [risks.export(c) for c in res.cards if c.model.risk_assessment]
    if any(d.severity == "error" for d in diags):
        _emit(diags, "text", sys.stderr)
        return 1
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def cmd_publish(args) -> int:
    from .publish import main as publish_main

    return publish_main(args, _paths(args))


def cmd_smoke(args) -> int:
    from .smoke import main as smoke_main

    return smoke_main(args, _paths(args))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cardgen", description="Model cards from YAML sources: validate, render, check, publish, smoke-test.")
    sub = ap.add_subparsers(dest="command", required=True)

    def add(name, func, help, paths=True, fmt=True):
        p = sub.add_parser(name, help=help, description=help)
        if paths:
            p.add_argument("paths", nargs="*", metavar="PATH", help="card folders, source files or README files (default: cards/)")
        if fmt:
            p.add_argument("--format", choices=("text", "json", "github"), default="text")
        p.set_defaults(func=func)
        return p

    p = add("validate", cmd_validate, "check sources (and README front matter) against the schema and the Hub's vocabulary")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p = add("schema", cmd_schema, "write the JSON Schema files", paths=False, fmt=False)
    p.add_argument("--out", default="schemas")
    add("codes", cmd_codes, "list the diagnostic codes", paths=False, fmt=False)
    for name, func, help in (("render", cmd_render, "render README.md files"),
                             ("check", cmd_check, "fail with a diff when a committed README differs from its sources"),
                             ("diff", cmd_diff, "show how committed READMEs differ from their sources")):
        p = add(name, func, help)
        p.add_argument("--out", help=f"output folder (default: {DEFAULT_OUT}/)")
    p = add("export", cmd_export, "export risk assessments as JSON", fmt=False)
    p.add_argument("--risks", action="store_true", required=True, help="export the risk documentation")
    p = add("publish", cmd_publish, "upload rendered cards to the Hub", fmt=False)
    p.add_argument("--revision", help="branch to commit to (default: main, and each variant's branch with --variants)")
    p.add_argument("--variants", action="store_true", help="also publish to each quantisation variant's branch")
    p.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    p.add_argument("--message", help="commit message")
    p.add_argument("--dry-run", action="store_true", help="print the diff against the Hub and change nothing")
    p.add_argument("--force", action="store_true", help="overwrite a README edited on the Hub")
    p.add_argument("--jobs", type=int, default=1, help="concurrent uploads")
    p.add_argument("--out", help="rendered folder to compare against (default: render in memory)")
    p = add("smoke", cmd_smoke, "load each model, prompt it as the card documents and judge the output", fmt=False)
    p.add_argument("--model-path", action="append", default=[], metavar="REPO_ID=DIR", help="load REPO_ID from a local folder")
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--json", metavar="FILE", help="write the report as JSON")
    p.add_argument("--shard", metavar="I/N", help="run only shard I of N (1-based)")
    p.add_argument("--no-snippet", action="store_true", help="do not execute the card's usage snippet")
    p.add_argument("--device", help="force a device (cpu, cuda)")
    return ap


def main(argv: list[str] | None = None) -> int:
    # The card models are plain pydantic; scanning every installed distribution for pydantic
    # plugins costs more than validating a card. A user who wants plugins sets the variable.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        print(f"cardgen: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `cardgen ... | head`
        sys.stderr.close()
        return 0
    except Exception as e:  # a bug: one line, never a traceback (set CARDGEN_DEBUG=1 for it)
        if os.environ.get("CARDGEN_DEBUG"):
            raise
        print(f"cardgen: internal error: {type(e).__name__}: {e} (set CARDGEN_DEBUG=1 for details)", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
