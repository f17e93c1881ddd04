"""Export the card models as JSON Schema files (for editors and other tools)."""

from __future__ import annotations

import json
from pathlib import Path

from .model import CardSource, SharedSource

SCHEMAS = {"card.schema.json": CardSource, "shared.schema.json": SharedSource}


def schema_text(model) -> str:
    schema = model.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": f"https://cardgen.invalid/schemas/{model.__name__}", **schema}
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_schemas(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        p = out / name
        p.write_text(schema_text(model), encoding="utf-8")
        written.append(p)
    return written
