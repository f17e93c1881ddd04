"""Evaluation results of an imported card: its `.eval_results/*.yaml` files (beside a README in a folder,
or in the Hub repository) and, where the README has no `model-index`, the score table of its evaluation
section, read into `evaluation:`. Either way gives the same results: a result of the model-index or of the
table takes the benchmark task, date, notes and source of the `.eval_results/` entry with its dataset and
value; an entry no result holds becomes a result of its own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen.evals.benchmarks import known
from cardgen.evals.entries import FOLDER

if TYPE_CHECKING:
    from huggingface_hub import EvalResultEntry

    from cardgen.hub import Bounds
    from cardgen.importing.imported import Imported

_LINK = re.compile(r"\A\[([^\]]*)\]\(([^)\s]+)\)\Z")
_NAME_CONFIG = re.compile(r"\A(.*?) \(([^()]*)\)\Z")


def parse_files(texts: dict[str, str], problems: list[str]) -> list[EvalResultEntry]:
    """The entries of `.eval_results/` files (path -> text); a file that does not parse is reported."""
    from huggingface_hub import parse_eval_result_entries

    from cardgen.loading.yamlpos import plain

    out = []
    for path, text in sorted(texts.items()):
        data, diags = plain(text, path)
        try:
            if diags or not isinstance(data, list):
                raise ValueError(diags[0].message if diags else "not a list of results")
            entries = parse_eval_result_entries(data)
            for e in entries:  # huggingface_hub takes each value as it comes
                if not (isinstance(e.dataset_id, str) and isinstance(e.task_id, str) and _value(e.value)):
                    raise ValueError("a result without a dataset id, a task id and a numeric value")
            out += entries
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            problems.append(f"{path}: not read as evaluation results ({type(e).__name__}: {e}); left out")
    return out


def _value(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def local_files(readme: Path) -> dict[str, str]:
    """The `.eval_results/*.yaml` files beside a README on disk (none through a link)."""
    from cardgen.files import read_text

    folder = readme.parent / FOLDER
    if folder.is_symlink() or not folder.is_dir():
        return {}
    out = {}
    for p in sorted(folder.glob("*.yaml"))[:100]:
        if p.is_symlink():
            continue
        text, _ = read_text(p, str(p))
        if text is not None:
            out[f"{FOLDER}/{p.name}"] = text
    return out


def hub_files(source: str, bounds: Bounds) -> dict[str, str]:
    """The `.eval_results/*.yaml` files of the Hub repository a README was fetched from (its page URL)."""
    import tempfile

    from cardgen.hub import Hub, endpoint

    rest = source[len(endpoint()) + 1:]
    repo, _, rev = rest.partition("/tree/")
    with tempfile.TemporaryDirectory(prefix="cardgen-import-") as tmp:
        return Hub(bounds).files_in(repo, rev or None, FOLDER, tmp)


def _canonical(r: dict[str, Any]) -> dict[str, Any]:
    from cardgen.schema import EvalResult

    return {k: r[k] for k in EvalResult.model_fields if r.get(k) is not None}


def _name_of(dataset: str) -> str:
    entry = known()["benchmarks"].get(dataset)
    return str(entry["name"]) if entry else dataset


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(float(a) == float(b))
    except (TypeError, ValueError):
        return bool(a == b)


def merge_entries(results: list[dict[str, Any]], entries: list[EvalResultEntry], task_type: str,
                  problems: list[str]) -> list[dict[str, Any]]:
    """``results`` (of a model-index or a score table) with what the `.eval_results/` entries add."""
    out = [dict(r) for r in results]
    used: set[int] = set()
    for e in entries:
        match = _match(out, used, e)
        extra = {"task_id": e.task_id, "date": e.date, "notes": e.notes, "verify_token": e.verify_token,
                 "source_user": e.source_user, "source_org": e.source_org}
        if match is None:
            problems.append(f"{FOLDER}: {e.dataset_id} {e.task_id!r} ({e.value!r}) is in no model-index or score "
                            "table: a result of its own, its metric named `score`")
            r: dict[str, Any] = {"task_type": task_type, "dataset_type": e.dataset_id,
                                 "dataset_name": _name_of(e.dataset_id), "dataset_revision": e.dataset_revision,
                                 "metric_type": "score", "metric_value": e.value}
            out.append(r)
            match = len(out) - 1
        used.add(match)
        r = out[match]
        if r.get("dataset_type") != e.dataset_id:
            r["benchmark" if r.get("dataset_type") else "dataset_type"] = e.dataset_id
        if e.source_url and not r.get("source_url"):
            r["source_url"], r["source_name"] = e.source_url, e.source_name
        r.update({k: v for k, v in extra.items() if v is not None})
    return [_canonical(r) for r in out]


def _match(results: list[dict[str, Any]], used: set[int], e: EvalResultEntry) -> int | None:
    """The result an entry stands for: its dataset (by id, or by name where a table gave only the name)
    and its value."""
    names = {e.dataset_id.lower(), e.dataset_id.rsplit("/", 1)[-1].lower(), _name_of(e.dataset_id).lower()}
    for i, r in enumerate(results):
        if i in used or not _same(r.get("metric_value"), e.value):
            continue
        ours = r.get("dataset_type") == e.dataset_id or r.get("benchmark") == e.dataset_id
        if ours or (r.get("dataset_type") is None and str(r.get("dataset_name", "")).lower() in names):
            return i
    return None


def score_table(body: str, task_type: str) -> tuple[list[dict[str, Any]], int | None]:
    """The results of the first table whose columns are cardgen's evaluation table's (Task, Dataset, Metric,
    Value; Split, Verified and Source when there), or a benchmark table (Benchmark or Dataset, Score or
    Value; Metric when there): (results, its first line)."""
    from cardgen import hubspec
    from cardgen.loading.yamlpos import plain

    lines = body.split("\n")
    for i, line in enumerate(lines):
        if not line.startswith("|") or i + 1 >= len(lines) or not re.fullmatch(r"\|[-:| ]+\|", lines[i + 1].strip()):
            continue
        head = [c.strip().lower() for c in line.strip().strip("|").split("|")]
        dataset = next((c for c in ("dataset", "benchmark") if c in head), None)
        value = next((c for c in ("value", "score") if c in head), None)
        if dataset is None or value is None:
            continue
        out = []
        for row in lines[i + 2:]:
            if not row.startswith("|"):
                break
            cells = dict(zip(head, [c.strip().replace("\\|", "|") for c in row.strip().strip("|").split("|")],
                             strict=False))
            number, _ = plain(cells.get(value, ""), "score")
            if not isinstance(number, (int, float)) or isinstance(number, bool):
                continue
            name, config = cells[dataset], None
            if m := _NAME_CONFIG.match(name):
                name, config = m.group(1), m.group(2)
            task = cells.get("task") or task_type
            r: dict[str, Any] = {"task_type": task if task in hubspec.pipeline_tags() else task_type,
                                 "task_name": None if task in hubspec.pipeline_tags() else task,
                                 "dataset_name": name, "dataset_config": config,
                                 "dataset_split": cells.get("split") or None,
                                 "metric_type": cells.get("metric") or "score", "metric_value": number}
            if (v := cells.get("verified")) in ("Yes", "No"):
                r["verified"] = v == "Yes"
            if m := _LINK.match(cells.get("source", "")):
                r["source_name"], r["source_url"] = (m.group(1) if m.group(1) != "source" else None), m.group(2)
            out.append(r)
        if out:
            return out, i + 1
    return [], None


def evaluation_of(imp: Imported, meta_has_index: bool, files: dict[str, str]) -> None:
    """Fill ``imp.card['evaluation']`` from the `.eval_results/` files and, without a model-index, from the
    README's score table; what changed is said in ``imp.problems``."""
    card = imp.card
    task_type = str(card.get("pipeline_tag") or "text-generation")
    entries = parse_files(files, imp.problems)
    if meta_has_index and not entries:  # the model-index alone: as the importer reads it
        return
    results = list(card.get("evaluation") or [])
    if not meta_has_index:
        from cardgen.frontmatter import split

        _, rest, _ = split(imp.original)
        table, line = score_table(rest, task_type)
        if table:
            results = table
            imp.problems.append(f"README line {(line or 0) + imp.original.count(chr(10)) - rest.count(chr(10))}: "
                                f"its score table became `evaluation:` ({len(table)} results): the rendered card "
                                "adds them as a model-index" + (" and `.eval_results/`" if entries else ""))
    for r in results:
        if r.get("dataset_type") is None:
            r["dataset_type"] = next((d for d, v in known()["benchmarks"].items()
                                      if v["name"].lower() == str(r.get("dataset_name", "")).lower()), None)
    merged = merge_entries(results, entries, task_type, imp.problems) if entries else results
    for r in merged:
        r.setdefault("dataset_type", r.get("dataset_name"))
        if r["dataset_type"] is None:
            r["dataset_type"] = r.get("dataset_name")
    if merged:
        card["evaluation"] = [_canonical(r) for r in merged]
        if "evaluation" not in imp.recognised:
            imp.recognised.append("evaluation")


def read_into(imp: Imported, bounds: Bounds) -> None:
    """`cardgen import`'s step for evaluation results: the `.eval_results/` files of where the README came
    from (a folder beside it, or its Hub repository) and its score table, into ``imp.card``."""
    from cardgen.hub import endpoint, explain

    files: dict[str, str] = {}
    if imp.source.startswith(endpoint() + "/"):
        try:
            files = hub_files(imp.source, bounds)
        except Exception as e:  # noqa: BLE001 - the README is imported without them, and that is said
            imp.problems.append(f"{FOLDER}/ of {imp.repo_id} not read: {explain(e, imp.repo_id)}")
    elif Path(imp.source).name == "README.md":
        files = local_files(Path(imp.source))
    evaluation_of(imp, "evaluation" in imp.card, files)
