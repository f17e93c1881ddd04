"""Rebuild the Hub vocabulary in `cardgen/data/hubspec/` from the Hub's own public sources (a
maintainer's command: `cardgen vocabulary`).

* pipeline tags and model libraries: an unpacked `@huggingface/tasks` package, as the npm registry
  serves it (`npm pack @huggingface/tasks && tar xzf huggingface-tasks-*.tgz` gives `package/`). Its
  own compiled modules are asked for `PIPELINE_DATA` and `MODEL_LIBRARIES_UI_ELEMENTS` with Node.js, so
  nothing of its TypeScript is parsed by hand.
* licences: a checkout of `huggingface/hub-docs`, whose `docs/hub/repositories-licenses.md` holds the
  table of licence ids between its `region licenses` comments (read with markdown-it-py).

Each file written names its source (package version, or repository, path, commit) and the date.
Languages are left as they are (they come from `huggingface.js/packages/languages`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardgen.commands.base import Command, UsageError
from cardgen.diagnostics import plural
from cardgen.report import Report

_DUMP = """
const p = require(process.argv[1] + "/dist/commonjs/pipelines.js");
const l = require(process.argv[1] + "/dist/commonjs/model-libraries.js");
process.stdout.write(JSON.stringify({pipelines: p.PIPELINE_DATA, libraries: l.MODEL_LIBRARIES_UI_ELEMENTS}));
"""


class VocabularyError(Exception):
    """The sources given cannot be read (a usage error)."""


def _write(path: Path, data: dict[str, Any]) -> Path:
    from cardgen.files import atomic_write

    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


def from_tasks(package: Path) -> tuple[list[dict[str, str]], list[dict[str, str]], str]:
    """(pipeline tags, libraries, source note) from an unpacked `@huggingface/tasks` package."""
    node = shutil.which("node")
    if node is None:
        raise VocabularyError("Node.js (`node`) is needed to read @huggingface/tasks")
    try:
        meta = json.loads((package / "package.json").read_text("utf-8"))
        p = subprocess.run([node, "-e", _DUMP, str(package.resolve())], capture_output=True, text=True, timeout=60)
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        raise VocabularyError(f"{package}: not an unpacked @huggingface/tasks package ({e})") from None
    if p.returncode != 0:
        raise VocabularyError(f"{package}: node could not load its dist/commonjs modules: "
                              f"{(p.stderr.strip().splitlines() or ['?'])[-1]}")
    data = json.loads(p.stdout)
    tags = [{"id": k, "name": v.get("name", k), "modality": v.get("modality", "")}
            for k, v in data["pipelines"].items()]
    libs = sorted(({"id": k, "name": v.get("prettyLabel", k)} for k, v in data["libraries"].items()),
                  key=lambda x: x["id"])
    return tags, libs, f"{meta.get('name', '@huggingface/tasks')} {meta.get('version', '?')} (npm)"


def from_hub_docs(checkout: Path) -> tuple[list[dict[str, str]], str]:
    """(licences, source note) from a checkout of huggingface/hub-docs."""
    from markdown_it import MarkdownIt

    doc = checkout / "docs/hub/repositories-licenses.md"
    try:
        text = doc.read_text("utf-8")
    except OSError as e:
        raise VocabularyError(f"{doc}: {e.strerror}") from None
    m = re.search(r"<!-- region licenses -->(.*?)<!-- endregion -->", text, re.S)
    tokens = MarkdownIt("commonmark").enable("table").parse(m.group(1) if m else text)
    rows: list[list[str]] = []
    for tok in tokens:
        if tok.type == "tr_open":
            rows.append([])
        elif tok.type == "inline" and rows:
            rows[-1].append(tok.content)
    licences = []
    for row in rows[1:]:  # the header row names the columns
        ident = re.fullmatch(r"`([^`]+)`", row[1].strip()) if len(row) > 1 else None
        if ident:
            licences.append({"id": ident.group(1), "name": row[0].replace("\\*", "*").strip()})
    if not licences:
        raise VocabularyError(f"{doc}: no licence table found")
    return licences, f"huggingface/hub-docs docs/hub/repositories-licenses.md @ {_commit(checkout)}"


def _commit(checkout: Path) -> str:
    try:
        p = subprocess.run(["git", "-C", str(checkout), "log", "-1", "--format=%H (%cs)"], capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown commit"
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else "unknown commit"


def rebuild(out: Path, tasks: Path | None = None, hub_docs: Path | None = None,
            today: dt.date | None = None) -> list[Path]:
    """Write the vocabulary files that the given sources hold; returns the files written."""
    date = (today or dt.date.today()).isoformat()
    written = []
    if tasks is not None:
        tags, libs, note = from_tasks(tasks)
        written.append(_write(out / "pipeline_tags.json", {"source": f"{note} PIPELINE_DATA, read {date}",
                                                           "pipeline_tags": tags}))
        written.append(_write(out / "library_names.json", {"source": f"{note} MODEL_LIBRARIES_UI_ELEMENTS, read {date}",
                                                           "library_names": libs}))
    if hub_docs is not None:
        licences, note = from_hub_docs(hub_docs)
        written.append(_write(out / "licenses.json", {"source": note, "licenses": licences}))
    return written


def _benchmarks(folder: Path, out: Path | None) -> Path:
    """cardgen's list of official benchmarks and their task ids, from their own eval.yaml files."""
    from cardgen.evals.benchmarks import DATA, rebuild_known

    try:
        data = rebuild_known(folder, dt.date.today().isoformat())
    except ValueError as e:
        raise VocabularyError(str(e)) from None
    return _write(out / "benchmarks.json" if out else DATA, data)


@dataclass(frozen=True)
class Written:
    file: str


@dataclass(frozen=True)
class VocabularyOptions:
    tasks: Path | None = None
    hub_docs: Path | None = None
    out: Path | None = None
    benchmarks: Path | None = None


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tasks", type=Path, metavar="DIR", help="an unpacked @huggingface/tasks npm package")
    p.add_argument("--hub-docs", type=Path, metavar="DIR", help="a checkout of huggingface/hub-docs (licences)")
    p.add_argument("--out", type=Path, help="where to write (default: the installed cardgen/data/hubspec/)")
    p.add_argument("--benchmarks", type=Path, metavar="DIR", help="official benchmarks' eval.yaml files, as "
                   "DIR/<owner>/<name>/eval.yaml (written to cardgen/data/benchmarks.json, or to --out)")


def options(args: argparse.Namespace, common: dict[str, Any]) -> VocabularyOptions:
    if args.tasks is None and args.hub_docs is None and args.benchmarks is None:
        raise UsageError("vocabulary: give --tasks, --hub-docs and/or --benchmarks")
    return VocabularyOptions(args.tasks, args.hub_docs, args.out, args.benchmarks)


def run(opts: VocabularyOptions) -> tuple[Report, int]:
    from cardgen import hubspec

    try:
        written = rebuild(opts.out or hubspec.DATA, opts.tasks, opts.hub_docs)
        if opts.benchmarks is not None:
            written.append(_benchmarks(opts.benchmarks, opts.out))
    except VocabularyError as e:
        raise UsageError(str(e)) from None
    report = Report("vocabulary", checked=plural(len(written), "file") + " written")
    report.lines = [str(p) for p in written]
    report.results = [Written(str(p)) for p in written]
    return report, 0


COMMANDS = (Command("vocabulary", "(maintainers) rebuild the carried Hub vocabulary from the Hub's own sources",
                    "cardgen vocabulary --tasks package/ --hub-docs ../hub-docs", arguments, options, run,
                    paths=False),)
