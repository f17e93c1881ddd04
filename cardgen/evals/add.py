"""`cardgen evals add`: evaluation logs written into a card source's `evaluation:`.

Each result of the logs replaces the card's result for the same task, dataset, split and metric, or is
added after them; the rest of the file stays as it is written (only the `evaluation:` block is rewritten,
atomically). A log of another model is refused unless the caller says why it may differ.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.evals.logs import Log, LogError, read_log


@dataclass
class Added:
    card: str
    added: list[dict[str, Any]] = field(default_factory=list)
    replaced: int = 0
    refused: list[str] = field(default_factory=list)  # "file: why"
    unmapped: list[str] = field(default_factory=list)  # tasks of no known benchmark
    written: bool = False


def card_file(path: Path) -> Path:
    return path / "card.yaml" if path.is_dir() else path


def _same_model(card_repo: str, model: str | None) -> bool:
    return model is not None and model.strip().rstrip("/").lower() == card_repo.lower()


def _key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r.get("task_name") or r.get("task_type"), r.get("dataset_type"), r.get("dataset_config"),
            r.get("dataset_split"), r.get("metric_type"), r.get("metric_name"))


def merge(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The card's results with the logs' in place of those they measure again; (results, how many replaced)."""
    out = list(old)
    where = {_key(r): i for i, r in enumerate(out) if isinstance(r, dict)}
    replaced = 0
    for r in new:
        k = _key(r)
        if k in where:
            out[where[k]] = r
            replaced += 1
        else:
            where[k] = len(out)
            out.append(r)
    # a benchmark task holds one value: the new result takes it, an older one stays in the table alone
    tasks = {_task(r) for r in new if r.get("task_id")}
    fresh = {id(r) for r in new}
    for i, r in enumerate(out):
        if isinstance(r, dict) and id(r) not in fresh and r.get("task_id") and _task(r) in tasks:
            out[i] = {k: v for k, v in r.items() if k != "task_id"}
    return out, replaced


def _task(r: dict[str, Any]) -> tuple[Any, Any]:
    return (r.get("benchmark") or r.get("dataset_type"), r.get("task_id"))


def add(card: Path, logs: list[Path], differs: str | None = None, dry_run: bool = False) -> Added:
    """Read ``logs`` into the card source ``card``; ValueError when the card cannot be read or written. The
    card is held from its reading to its writing: two runs at once on one card both land (one after the other)."""
    from cardgen.files import locked

    path = card_file(card)
    if path.is_symlink():  # written over, the link would become a copy of what it points to
        raise ValueError(f"{path} is a link (to {os.readlink(path)}): give the card source it points to")
    try:
        with locked(path):
            return _add(path, logs, differs, dry_run)
    except OSError as e:
        raise ValueError(f"{path}: cannot write: {e.strerror or e}") from None


def _add(path: Path, logs: list[Path], differs: str | None, dry_run: bool) -> Added:
    from cardgen.loading.yamlpos import load

    doc, diags = load(path)
    if doc is None or not isinstance(doc.data, dict):
        raise ValueError(f"{path}: " + (diags[0].message if diags else "not a YAML mapping"))
    repo = doc.data.get("repo_id")
    if not isinstance(repo, str):
        raise ValueError(f"{path}: `evals add` writes into a card with one `repo_id` (not a suite)")
    task_type = str(doc.data.get("pipeline_tag") or "text-generation")
    out = Added(str(path))
    new: list[dict[str, Any]] = []
    for f in logs:
        try:
            log = read_log(f, task_type)
        except LogError as e:
            out.refused.append(f"{f}: {e}")
            continue
        if not _same_model(repo, log.model):
            if differs is None:
                out.refused.append(f"{f}: the log evaluated {log.model or 'a model it does not name'}, not {repo} "
                                   "(say why it is this card's results with --model-differs REASON)")
                continue
            for r in log.results:
                r["notes"] = f"{r.get('notes', '')}; evaluated as {log.model}: {differs}".lstrip("; ")
        try:
            checked = _checked(log)
        except ValueError as e:  # pydantic's ValidationError: a value no card field takes
            out.refused.append(f"{f}: a result does not fit the card's `evaluation:` "
                               f"({str(e).splitlines()[0] if str(e) else 'invalid'})")
            continue
        out.unmapped += [f"{log.file}: {t}" for t in log.unmapped]
        new += checked
    if not new:
        return out
    old = doc.data.get("evaluation")
    merged, out.replaced = merge(old if isinstance(old, list) else [], new)
    out.added = new
    if not dry_run:
        write_evaluation(path, doc.text or "", merged)
        out.written = True
    return out


def _checked(log: Log) -> list[dict[str, Any]]:
    """The log's results, each as the card's schema takes it (fields it does not know dropped)."""
    from cardgen.schema import EvalResult

    return [EvalResult(**r).model_dump(exclude_none=True) for r in log.results]


def write_evaluation(path: Path, text: str, results: list[dict[str, Any]]) -> None:
    """Replace the `evaluation:` block of a card source (or add one at its end), atomically."""
    import yaml

    from cardgen.files import atomic_write
    from cardgen.limits import MAX_FILE_BYTES

    block = yaml.safe_dump({"evaluation": results}, sort_keys=False, allow_unicode=True, width=120)
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.startswith("evaluation:")), None)
    if start is None:
        body = text + ("" if not text or text.endswith("\n") else "\n") + block
    else:
        end = start + 1
        while end < len(lines) and (lines[end][:1] in (" ", "\t", "-", "\n", "\r") or lines[end].startswith("#")
                                    and _continues(lines, end)):
            end += 1
        while end > start + 1 and not lines[end - 1].strip():  # the blank lines after the block stay
            end -= 1
        body = "".join(lines[:start]) + block + "".join(lines[end:])
    if len(body.encode("utf-8")) > MAX_FILE_BYTES:  # a card cardgen would then refuse to read
        raise ValueError(f"{path}: with these results the card source would be over cardgen's limit of "
                         f"{MAX_FILE_BYTES:,} bytes; left as it was")
    atomic_write(path, body)


def _continues(lines: list[str], i: int) -> bool:
    """Whether a comment line at the top level still belongs to the block above (more of it follows)."""
    for ln in lines[i + 1:]:
        if ln.strip() and not ln.startswith("#"):
            return ln[:1] in (" ", "\t", "-")
    return False
