"""`cardgen export --risks`: the risk assessments as cardgen's JSON (inside the report), or as an artefact
on stdout (JSON-LD in AIRO/DPV terms, a CycloneDX ML-BOM) with the problems found on stderr."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

from cardgen.commands.base import Command, Common, add_jobs, extra_missing
from cardgen.diagnostics import failed, plural
from cardgen.report import Report

RISK_FORMATS = ("json", "jsonld", "cyclonedx")  # json is the report itself; the others are artefacts


@dataclass(frozen=True)
class ExportOptions(Common):
    format: str = "json"
    risks: bool = True


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--risks", action="store_true", required=True, help="export the risk documentation")
    add_jobs(p)


def options(args: argparse.Namespace, common: dict[str, Any]) -> ExportOptions:
    return ExportOptions(**common, risks=args.risks, jobs=args.jobs)


def run(opts: ExportOptions) -> tuple[Report, int]:
    """`--format json`: one report, the assessments under `document`. `jsonld` and `cyclonedx`: the
    artefact alone on stdout (``Report.lines``), the problems found on stderr."""
    from cardgen.loading.scope import select
    from cardgen.pipeline.validate import validate_scope
    from cardgen.risk import export, matrix

    report = Report("export")
    cards = []
    for scope in select(list(opts.paths)).scopes:
        res = validate_scope(scope, opts.jobs, opts.policy)
        report.diagnostics += res.diagnostics
        cards += [c for c in res.cards if c.model.risk_assessment]
    report.checked = plural(len(cards), "risk assessment")
    if failed(report.diagnostics):
        return report, 1
    if opts.format == "json":
        report.document = [matrix.export(c) for c in cards]
        return report, 0
    try:
        if opts.format == "jsonld":
            artefact = export.jsonld(cards)
        else:
            bom = export.cyclonedx(cards)
            problem = export.validate_cyclonedx(bom)
            if problem:  # a bug in the export, said plainly rather than written out
                report.notes.append(f"cardgen: error: the CycloneDX document does not validate: {problem}")
                return report, 1
            artefact = json.dumps(bom, indent=2, ensure_ascii=False)
    except export.ExportUnavailable as e:
        raise extra_missing("export", str(e)) from None
    report.lines = [artefact]
    return report, 0


COMMANDS = (Command("export", "export risk assessments: json (with the problems found), jsonld (AIRO/DPV), cyclonedx",
                    "cardgen export --risks --format json > risks.json", arguments, options, run,
                    formats=RISK_FORMATS, default_format="json"),)
