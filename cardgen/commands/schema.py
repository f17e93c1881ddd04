"""`cardgen schema`: the card format as JSON Schema files (editors validate sources against them through
each source's `$schema` modeline), and the schemas of `cardgen export --risks --format json` and of
`cardgen smoke`'s report."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen.commands.base import Command
from cardgen.diagnostics import plural
from cardgen.report import Report

if TYPE_CHECKING:
    from pydantic import BaseModel


def all_schemas() -> dict[str, type[BaseModel]]:
    """The source schemas and the schema of `cardgen export --risks --format json` (its `document`
    holds a list of these)."""
    from cardgen.risk.export import RiskExport
    from cardgen.schema import CardSource, SharedSource
    from cardgen.smoke.schema import SmokeReport

    return {"card.schema.json": CardSource, "shared.schema.json": SharedSource, "risks.schema.json": RiskExport,
            "smoke.schema.json": SmokeReport}


def schema_text(model: type[BaseModel]) -> str:
    schema = model.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": f"https://cardgen.invalid/schemas/{model.__name__}", **schema}
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_schemas(out: Path) -> list[Path]:
    from cardgen.files import atomic_write

    written = []
    for name, model in all_schemas().items():
        p = out / name
        atomic_write(p, schema_text(model))
        written.append(p)
    return written


@dataclass(frozen=True)
class Written:
    schema: str


@dataclass(frozen=True)
class SchemaOptions:
    out: Path = Path("schemas")


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("schemas"), help="the folder to write to (default: schemas)")


def options(args: argparse.Namespace, common: dict[str, Any]) -> SchemaOptions:
    return SchemaOptions(args.out)


def run(opts: SchemaOptions) -> tuple[Report, int]:
    written = write_schemas(opts.out)
    report = Report("schema", checked=plural(len(written), "schema") + " written")
    report.lines = [str(p) for p in written]
    report.results = [Written(str(p)) for p in written]
    return report, 0


COMMANDS = (Command("schema", "write the JSON Schema files", "cardgen schema --out schemas/", arguments, options, run,
                    paths=False),)
