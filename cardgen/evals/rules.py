"""The rules on a card's evaluation results as `.eval_results/` holds them: one value per benchmark task,
and a task id its benchmark defines (``benchmarks``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from cardgen.diagnostics import Where
from cardgen.evals.benchmarks import problem
from cardgen.evals.entries import benchmark_of, duplicates
from cardgen.rules.registry import card_rule

if TYPE_CHECKING:
    from cardgen.card import Card

Found = Iterator[tuple[Where, str]]


@card_rule("CG653", "two results for one benchmark task",
           rule="the Hub keeps one value per benchmark dataset and task in `.eval_results/`")
def one_value_per_task(card: Card) -> Found:
    results = card.model.evaluation or []
    for first, again in duplicates(results):
        r = results[again]
        yield card.loc("evaluation", again, "task_id"), (
            f"{benchmark_of(r)} task {r.task_id!r} already has a result (evaluation[{first}]); keep `task_id` on "
            "the one the benchmark's leaderboard should show")


@card_rule("CG650", "task id not defined by the benchmark's eval.yaml",
           rule="the Hub matches `.eval_results/` entries to the tasks of the benchmark's eval.yaml")
def task_in_eval_yaml(card: Card) -> Found:
    yield from _checked(card, "CG650")


@card_rule("CG652", "task id not among the official benchmark's known tasks", "warning")
def task_in_known_list(card: Card) -> Found:
    yield from _checked(card, "CG652")


@card_rule("CG651", "benchmark task not checked", "warning")
def task_not_checked(card: Card) -> Found:
    yield from _checked(card, "CG651")


def _checked(card: Card, code: str) -> Found:
    for i, r in enumerate(card.model.evaluation or []):
        if r.task_id is None:
            continue
        found = problem(benchmark_of(r), r.task_id)
        if found is not None and found[0] == code:
            yield card.loc("evaluation", i, "task_id"), found[1]
