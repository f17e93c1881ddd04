"""Benchmark identity: which task ids a benchmark dataset defines.

A benchmark's own `eval.yaml` (its `tasks[].id`) is the authority: it is read from a local copy of the
dataset (a folder of `CARDGEN_BENCHMARKS`, or one given to the command, holding `<owner>/<name>/eval.yaml`)
or from the Hugging Face cache (`datasets--<owner>--<name>/snapshots/*/eval.yaml`); nothing is downloaded
here (`cardgen evals check --allow-download` fetches it into the cache). Without it, the official
benchmarks cardgen carries (`data/benchmarks.json`, with its source and date; `cardgen vocabulary
--benchmarks` rebuilds it) are the next best; else the task is not checked, and a warning says so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data" / "benchmarks.json"


@lru_cache(maxsize=1)
def known() -> dict[str, Any]:
    """The bundled list: {"source", "date", "benchmarks": {id: {"name", "tasks"}}, "lm_eval", "inspect"}."""
    data: dict[str, Any] = json.loads(DATA.read_text("utf-8"))
    return data


def hub_cache() -> Path:
    """huggingface_hub's cache folder, as it finds it (without importing it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    return Path(home) / "hub"


def local_folders(extra: tuple[Path, ...] = ()) -> tuple[Path, ...]:
    env = [Path(p) for p in os.environ.get("CARDGEN_BENCHMARKS", "").split(os.pathsep) if p]
    return (*extra, *env)


def find_eval_yaml(dataset: str, folders: tuple[Path, ...] = ()) -> Path | None:
    """The benchmark's `eval.yaml` on this machine: a local copy first, then the Hub cache (the snapshot
    `refs/main` names, else the newest)."""
    if "/" not in dataset or ".." in dataset.split("/"):
        return None
    for f in local_folders(folders):
        for p in (f / dataset / "eval.yaml", f / dataset.replace("/", "--") / "eval.yaml"):
            if p.is_file():
                return p
    repo = hub_cache() / ("datasets--" + dataset.replace("/", "--"))
    main = repo / "refs" / "main"
    try:
        sha = main.read_text("utf-8").strip() if main.is_file() else ""
    except OSError:
        sha = ""
    if sha and (repo / "snapshots" / sha / "eval.yaml").is_file():
        return repo / "snapshots" / sha / "eval.yaml"
    found = sorted((repo / "snapshots").glob("*/eval.yaml"), key=lambda p: p.stat().st_mtime, reverse=True)
    return found[0] if found else None


def read_tasks(path: Path) -> tuple[list[str] | None, str | None]:
    """(the task ids an `eval.yaml` defines, or None; why it cannot be read)."""
    from cardgen.loading.yamlpos import load

    doc, diags = load(path)
    if doc is None or not isinstance(doc.data, dict):
        return None, diags[0].message if diags else "not a YAML mapping"
    tasks = doc.data.get("tasks")
    if not isinstance(tasks, list):
        return None, "it has no `tasks` list"
    return [str(t["id"]) for t in tasks if isinstance(t, dict) and t.get("id") is not None], None


@dataclass(frozen=True)
class Tasks:
    """What is known of a benchmark's tasks: the ids (None: unknown) and where they come from."""

    ids: list[str] | None
    where: str
    authority: bool  # read from the benchmark's own eval.yaml


def tasks_of(dataset: str, folders: tuple[Path, ...] = ()) -> Tasks:
    path = find_eval_yaml(dataset, folders)
    if path is not None:
        ids, why = read_tasks(path)
        if ids is not None:
            return Tasks(ids, str(path), True)
        return Tasks(None, f"{path} cannot be read ({why})", False)
    data = known()
    entry = data["benchmarks"].get(dataset)
    if entry and entry.get("tasks"):
        return Tasks(list(entry["tasks"]), f"cardgen's list of official benchmarks ({data['date']})", False)
    return Tasks(None, "no eval.yaml on this machine" + (" and cardgen's list names no task of it"
                                                          if entry else ""), False)


def problem(dataset: str, task_id: str, folders: tuple[Path, ...] = ()) -> tuple[str, str] | None:
    """(code, message) when a result's benchmark task is not one its benchmark defines, or was not checked."""
    t = tasks_of(dataset, folders)
    if t.ids is None:
        return "CG651", (f"benchmark task {dataset} {task_id!r} not checked: {t.where} (put the dataset's "
                         "eval.yaml in the Hub cache with `cardgen evals check --allow-download`)")
    if task_id in t.ids:
        return None
    code = "CG650" if t.authority else "CG652"
    return code, f"{dataset} defines no task {task_id!r} ({t.where}: {', '.join(t.ids) or 'none'})"


def rebuild_known(folder: Path, date: str) -> dict[str, Any]:
    """cardgen's list rebuilt from the benchmarks' own eval.yaml files under ``folder``
    (`<owner>/<name>/eval.yaml`, e.g. each official benchmark's file as `hf download --repo-type dataset`
    gives it); the harness task names are kept. ValueError when none is found."""
    from cardgen.loading.yamlpos import load

    found: dict[str, Any] = {}
    for path in sorted(folder.glob("*/*/eval.yaml")):
        ids, why = read_tasks(path)
        if ids is None:
            raise ValueError(f"{path}: {why}")
        doc, _ = load(path)
        data = doc.data if doc is not None else {}
        dataset = f"{path.parent.parent.name}/{path.parent.name}"
        found[dataset] = {"name": str(data.get("name") or dataset), "tasks": ids}
        if data.get("evaluation_framework"):
            found[dataset]["evaluation_framework"] = str(data["evaluation_framework"])
    if not found:
        raise ValueError(f"{folder}: no <owner>/<name>/eval.yaml found")
    old = known()
    return {"source": f"the benchmarks' own eval.yaml files ({len(found)}), read {date}", "date": date,
            "benchmarks": found, "lm_eval": old["lm_eval"], "inspect": old["inspect"]}


def state() -> str:
    """What the checks of benchmark tasks read beyond the cards: every eval.yaml they could find (path,
    size, time), one line each. Part of the dependency graph's environment, so that an eval.yaml put into
    the cache (or a `CARDGEN_BENCHMARKS` folder) is seen by the next run, not replayed over."""
    cached = sorted(hub_cache().glob("datasets--*/snapshots/*/eval.yaml"))
    found = [*(p for f in local_folders() for p in sorted(f.glob("*/*/eval.yaml"))), *cached,
             *sorted({p.parents[2] / "refs" / "main" for p in cached})]  # which snapshot is the benchmark's
    lines = [os.environ.get("CARDGEN_BENCHMARKS", "")]
    for p in found:
        try:
            st = p.stat()
        except OSError:
            continue
        lines.append(f"{p}\t{st.st_size}\t{st.st_mtime_ns}")
    return "\n".join(lines)
