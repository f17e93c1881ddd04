"""`cardgen validate`: card sources against the schema and the Hub's rules, rendered and linted in memory
as `render` would (validate passes only if render does); published READMEs by the same Hub rules."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardgen.commands.base import Command, Common, add_jobs
from cardgen.diagnostics import failed, plural
from cardgen.report import Report


@dataclass(frozen=True)
class ValidateOptions(Common):
    model_dir: Path | None = None


def arguments(p: argparse.ArgumentParser) -> None:
    add_jobs(p)  # --strict: every command that reports diagnostics has it (cli.py)
    p.add_argument("--model-dir", type=Path, metavar="DIR",
                   help="check the card against its model folder (configs, tokenizer, safetensors and GGUF headers); "
                        "a card's `model_dir:` does the same")


def options(args: argparse.Namespace, common: dict[str, Any]) -> ValidateOptions:
    return ValidateOptions(**common, jobs=args.jobs, model_dir=args.model_dir)


def run(opts: ValidateOptions) -> tuple[Report, int]:
    from cardgen.loading.scope import select

    selection = select(list(opts.paths))
    report = Report("validate")
    ncards = 0
    if selection.scopes:
        from cardgen.pipeline.incremental import render_incremental

        rendering = render_incremental(selection, opts.jobs, opts.policy)
        report.diagnostics += rendering.diagnostics
        ncards = len(rendering.texts) + len(rendering.failed)
    if selection.scopes:  # against the model folder, when one is named (cardgen.folder)
        from cardgen.folder.run import folder_checks

        report.diagnostics += folder_checks(selection, opts.model_dir, opts.policy)
    if selection.readmes:  # the Hub's rules, on published READMEs (their module loads the card schema)
        from cardgen.rules.readme import validate_readme

        for p in selection.readmes:
            report.diagnostics += opts.policy.apply(validate_readme(p, opts.policy))
    report.checked = plural(ncards, "card") + (f", {plural(len(selection.readmes), 'README')}"
                                               if selection.readmes else "")
    return report, int(failed(report.diagnostics))  # --strict: cli.py's gate


COMMANDS = (Command("validate", "check sources (and README front matter) against the schema and the Hub's rules",
                    "cardgen validate cards/ some/README.md --format github", arguments, options, run),)
