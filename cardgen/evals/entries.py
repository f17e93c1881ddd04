"""The card's `evaluation:` as huggingface_hub's ``EvalResultEntry``s and the `.eval_results/*.yaml`
files they make: one file per benchmark, beside the README, written and checked like it.

A result goes to `.eval_results/` when it names its benchmark task (``task_id``); its benchmark is
``benchmark`` or else ``dataset_type`` (the dataset's Hub id, as in the model-index).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from huggingface_hub import EvalResultEntry

    from cardgen.card import Card
    from cardgen.schema import EvalResult

#: the folder of the Hub's evaluation results in a model repository
FOLDER = ".eval_results"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def benchmark_of(r: EvalResult) -> str:
    return r.benchmark or r.dataset_type


def entry(r: EvalResult) -> EvalResultEntry:
    """One result as huggingface_hub's ``EvalResultEntry`` (``task_id`` set)."""
    from huggingface_hub import EvalResultEntry

    assert r.task_id is not None
    return EvalResultEntry(dataset_id=benchmark_of(r), task_id=r.task_id, value=r.metric_value,
                           dataset_revision=r.dataset_revision, verify_token=r.verify_token, date=r.date,
                           source_url=r.source_url, source_name=r.source_name, source_user=r.source_user,
                           source_org=r.source_org, notes=r.notes)


def file_names(benchmarks: list[str]) -> dict[str, str]:
    """benchmark id -> its file name under `.eval_results/`: the dataset's name (`gpqa.yaml`), or
    `owner__name.yaml` where two benchmarks share a name."""
    short = {b: _UNSAFE.sub("_", b.rsplit("/", 1)[-1]) or "results" for b in benchmarks}
    counts: dict[str, int] = {}
    for name in short.values():
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    return {b: (n if counts[n.lower()] == 1 else _UNSAFE.sub("_", b.replace("/", "__"))) + ".yaml"
            for b, n in short.items()}


def grouped(results: list[EvalResult]) -> dict[str, list[EvalResult]]:
    """The results with a task id, by benchmark, in the card's order."""
    out: dict[str, list[EvalResult]] = {}
    for r in results:
        if r.task_id is not None:
            out.setdefault(benchmark_of(r), []).append(r)
    return out


def eval_files(card: Card) -> dict[str, str]:
    """`.eval_results/<name>.yaml` -> its text, for the card's results with a task id (none: {})."""
    groups = grouped(card.model.evaluation or [])
    if not groups:
        return {}
    from huggingface_hub import eval_result_entries_to_yaml

    names = file_names(list(groups))
    return {f"{FOLDER}/{names[b]}": dump(eval_result_entries_to_yaml([entry(r) for r in rs]))
            for b, rs in groups.items()}


def dump(data: list[dict[str, Any]]) -> str:
    import yaml

    head = "# Written by cardgen from the card's `evaluation:`; edit the card source, not this file.\n"
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)


def duplicates(results: list[EvalResult]) -> list[tuple[int, int]]:
    """(first, again): two results for the same benchmark task (the Hub keeps one value per task)."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for i, r in enumerate(results):
        if r.task_id is None:
            continue
        key = (benchmark_of(r), r.task_id)
        if key in seen:
            out.append((seen[key], i))
        else:
            seen[key] = i
    return out
