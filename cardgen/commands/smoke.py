"""`cardgen smoke`: load each model, prompt it as its card documents and judge the output (``cardgen.smoke``)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen.commands.base import Command, UsageError
from cardgen.report import Report

if TYPE_CHECKING:
    from cardgen.smoke.options import SmokeOptions


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model-path", action="append", default=[], metavar="REPO_ID=DIR",
                   help="load REPO_ID from a local folder")
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the per-model results as JSON")
    p.add_argument("--shard", metavar="I/N", help="run only shard I of N (1-based)")
    p.add_argument("--no-snippet", action="store_true", help="do not execute the card's usage snippet")
    p.add_argument("--device", choices=("cpu", "cuda"), help="force a device")
    p.add_argument("--tokenizer-only", action="store_true",
                   help="run only the checks that need no weights (prompt, special tokens, stops, chat template)")
    p.add_argument("--allow-download", action="store_true",
                   help="download repositories that are neither given with --model-path nor in the local cache")
    p.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                   help="per model: loading, generation and the snippet each (default: 600)")


def model_paths(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        repo, sep, path = item.partition("=")
        if not sep or not repo or not path:
            raise UsageError(f"--model-path wants REPO_ID=DIR, got {item!r}")
        out[repo] = Path(path)
    return out


def options(args: argparse.Namespace, common: dict[str, Any]) -> SmokeOptions:
    from cardgen.files import write_problem
    from cardgen.smoke.options import SmokeOptions

    if args.json is not None and (problem := write_problem(args.json)):
        raise UsageError(f"--json {args.json}: {problem}")
    return SmokeOptions(paths=common["paths"], policy=common["policy"], model_paths=model_paths(args.model_path),
                        max_new_tokens=args.max_new_tokens, json=args.json, shard=args.shard,
                        no_snippet=args.no_snippet, device=args.device, tokenizer_only=args.tokenizer_only,
                        allow_download=args.allow_download, timeout=args.timeout if args.timeout > 0 else None,
                        command_line=command_line(args, common))


def command_line(args: argparse.Namespace, common: dict[str, Any]) -> str:
    """The command as given: its paths and each option that is not the default (the report names it)."""
    words = ["cardgen", "smoke", *map(str, common["paths"])]
    for item in args.model_path:
        words += ["--model-path", item]
    for flag, value, default in (("--max-new-tokens", args.max_new_tokens, 16), ("--json", args.json, None),
                                 ("--shard", args.shard, None), ("--device", args.device, None),
                                 ("--timeout", args.timeout, 600.0), ("--format", common.get("format"), "text")):
        if value != default:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    words += [f for f, on in (("--no-snippet", args.no_snippet), ("--tokenizer-only", args.tokenizer_only),
                              ("--allow-download", args.allow_download)) if on]
    return shlex.join(words)


def run(opts: SmokeOptions) -> tuple[Report, int]:
    from cardgen.console import Progress
    from cardgen.smoke.run import smoke

    progress = Progress(sys.stderr)
    try:
        return smoke(opts, progress)
    finally:
        progress.close()


COMMANDS = (Command("smoke", "load each model, prompt it as the card documents and judge the output",
                    "cardgen smoke --model-path org/name=/models/name --json report.json", arguments, options, run),)
