"""`cardgen evals`: evaluation results into a card source and their benchmarks checked.

* `cardgen evals add CARD LOG...`: lm-evaluation-harness `results_*.json` and inspect-ai JSON logs into the
  card's `evaluation:` (``cardgen.evals.add``); a log of another model is refused (CG654) unless
  `--model-differs REASON` says why it is this card's.
* `cardgen evals check CARD...`: each result's benchmark task against the benchmark's eval.yaml; with
  `--allow-download`, an eval.yaml not on this machine is fetched into the Hugging Face cache first.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardgen.commands.base import Command, UsageError
from cardgen.diagnostics import Diagnostic, Where, error, plural, warning
from cardgen.report import Report


@dataclass(frozen=True)
class EvalsOptions:
    action: str
    card: Path
    files: tuple[Path, ...] = ()
    model_differs: str | None = None
    dry_run: bool = False
    allow_download: bool = False
    benchmarks: tuple[Path, ...] = ()
    format: str = "text"


@dataclass(frozen=True)
class Result:
    dataset: str
    task_id: str | None
    metric: str
    value: Any
    state: str


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["add", "check"], help="add: logs into the card; check: its benchmark tasks")
    p.add_argument("card", type=Path, metavar="CARD", help="a card source (card.yaml) or its folder")
    p.add_argument("files", nargs="*", type=Path, metavar="FILE",
                   help="add: evaluation logs (lm-evaluation-harness results_*.json, inspect-ai .json logs); "
                        "check: more cards")
    p.add_argument("--model-differs", metavar="REASON",
                   help="add: take a log of another model (a local path, a checkpoint), saying why it is this card's")
    p.add_argument("--dry-run", action="store_true", help="add: show what would be written, write nothing")
    p.add_argument("--allow-download", action="store_true",
                   help="check: fetch a benchmark's eval.yaml missing from this machine into the Hugging Face cache")
    p.add_argument("--benchmarks", type=Path, action="append", default=[], metavar="DIR",
                   help="check: local copies of benchmark datasets, as DIR/<owner>/<name>/eval.yaml")


def options(args: argparse.Namespace, common: dict[str, Any]) -> EvalsOptions:
    if args.action == "add" and not args.files:
        raise UsageError("evals add: give the card and at least one evaluation log")
    return EvalsOptions(args.action, args.card, tuple(args.files), args.model_differs, args.dry_run,
                        args.allow_download, tuple(args.benchmarks), common.get("format", "text"))


def run(opts: EvalsOptions) -> tuple[Report, int]:
    return add(opts) if opts.action == "add" else check(opts)


def add(opts: EvalsOptions) -> tuple[Report, int]:
    from cardgen.evals.add import add as add_logs

    try:
        out = add_logs(opts.card, list(opts.files), opts.model_differs, opts.dry_run)
    except ValueError as e:
        raise UsageError(f"evals add: {e}") from None
    diags: list[Diagnostic] = []
    for why in out.refused:
        file, _, message = why.partition(": ")
        code = "CG654" if "the log evaluated" in message else "CG655"
        diags.append(error(Where(file), code, message))
    for task in out.unmapped:
        file, _, name = task.partition(": ")
        diags.append(warning(Where(file), "CG656", f"task {name} is of no benchmark cardgen knows: in the README "
                                                   "table and the model-index, not in `.eval_results/`"))
    report = Report("evals add", diags, checked=plural(len(opts.files), "log"))
    report.results = [Result(r["dataset_type"], r.get("task_id"), r.get("metric_name") or r["metric_type"],
                             r["metric_value"], "added") for r in out.added]
    report.lines = [f"{r.dataset}  {r.task_id or '-'}  {r.metric}  {r.value!r}" for r in report.results]
    verb = "would write" if opts.dry_run else "wrote"
    if out.added:
        report.notes.append(f"{verb} {plural(len(out.added), 'result')} into {out.card} ({out.replaced} replacing "
                            "results of the same task, dataset and metric); run `cardgen render`")
    return report, int(any(d.severity == "error" for d in diags))


def check(opts: EvalsOptions) -> tuple[Report, int]:
    from cardgen.evals.add import card_file
    from cardgen.evals.benchmarks import find_eval_yaml, problem
    from cardgen.evals.entries import benchmark_of
    from cardgen.loading.yamlpos import load
    from cardgen.schema import EvalResult

    diags: list[Diagnostic] = []
    results: list[Result] = []
    for card in (opts.card, *opts.files):
        path = card_file(card)
        doc, problems = load(path)
        if doc is None or not isinstance(doc.data, dict):
            diags += problems
            continue
        for i, raw in enumerate(doc.data.get("evaluation") or []):
            try:
                r = EvalResult(**raw)
            except (TypeError, ValueError):
                continue  # `cardgen validate` says what is wrong with it
            if r.task_id is None:
                continue
            dataset = benchmark_of(r)
            if opts.allow_download and find_eval_yaml(dataset, opts.benchmarks) is None:
                diags += _download(dataset, Where(str(path), *doc.pos(("evaluation", i))))
            found = problem(dataset, r.task_id, opts.benchmarks)
            where = Where(str(path), *doc.pos(("evaluation", i, "task_id")))
            if found is not None:
                code, message = found
                diags.append(error(where, code, message) if code == "CG650" else warning(where, code, message))
            results.append(Result(dataset, r.task_id, r.metric_name or r.metric_type, r.metric_value,
                                  "ok" if found is None else found[0]))
    report = Report("evals check", diags, checked=plural(len(results), "benchmark task"))
    report.results = results
    return report, int(any(d.severity == "error" for d in diags))


def _download(dataset: str, where: Where) -> list[Diagnostic]:
    from cardgen.evals.benchmarks import hub_cache
    from cardgen.hub import Hub

    try:
        Hub().eval_yaml(dataset, str(hub_cache()))
    except Exception as e:  # noqa: BLE001 - one line: the task stays unchecked (CG651 says so)
        from cardgen.hub import explain

        return [warning(where, "CG651", f"{dataset}'s eval.yaml could not be fetched: "
                                        f"{explain(e, dataset, None, 'fetching eval.yaml', None)}")]
    return []


COMMANDS = (Command("evals", "evaluation logs into a card's `evaluation:`, and its benchmark tasks checked",
                    "cardgen evals add cards/acme/model results_2026-01-01.json", arguments, options, run,
                    paths=False),)
