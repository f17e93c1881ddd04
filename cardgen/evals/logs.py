"""Evaluation logs read as `evaluation:` results: lm-evaluation-harness's `results_*.json` and inspect-ai's
JSON logs. Each metric becomes one result with its value exactly as the log gives it; the task is mapped
to its benchmark dataset and task id where cardgen knows it (``benchmarks.known``), and the harness, its
version, the n-shot and the standard error go to the result's notes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.evals.benchmarks import known
from cardgen.files import loads_json, read_text
from cardgen.limits import MAX_EVAL_LOG_BYTES


class LogError(ValueError):
    """A file that is not an evaluation log cardgen reads."""


@dataclass
class Log:
    file: str
    harness: str
    version: str | None
    model: str | None  # the model evaluated, as the log names it
    results: list[dict[str, Any]] = field(default_factory=list)  # `evaluation:` entries
    unmapped: list[str] = field(default_factory=list)  # tasks of no benchmark cardgen knows


def read_log(path: Path, task_type: str) -> Log:
    """One log, whichever format it is in."""
    text, diags = read_text(path, str(path), MAX_EVAL_LOG_BYTES)
    if text is None:
        raise LogError(diags[0].message if diags else "cannot be read")
    try:
        data = loads_json(text)
    except ValueError as e:
        raise LogError(f"not JSON: {e}") from None
    if isinstance(data, dict) and isinstance(data.get("results"), dict) and "configs" in data:
        return lm_eval(data, str(path), task_type)
    if isinstance(data, dict) and isinstance(data.get("eval"), dict) and isinstance(data.get("results"), dict):
        return inspect_ai(data, str(path), task_type)
    raise LogError("neither an lm-evaluation-harness results file (`results`, `configs`) nor an inspect-ai log "
                   "(`eval`, `results`)")


def _model_arg(args: Any) -> str | None:
    """`pretrained=` of lm-evaluation-harness's `model_args` (a string `k=v,...` or a mapping)."""
    if isinstance(args, dict):
        return _text(args.get("pretrained")) or _text(args.get("model")) or _text(args.get("path"))
    if isinstance(args, str):
        for part in args.split(","):
            k, _, v = part.partition("=")
            if k.strip() in ("pretrained", "model", "path") and v.strip():
                return v.strip()
    return None


def _dict(v: Any) -> dict[str, Any]:
    """A log's mapping, or an empty one where the log has something else in its place."""
    return v if isinstance(v, dict) else {}


def _text(v: Any) -> str | None:
    """A log's name or version as text: a string or a number; None for anything else (a list, a mapping)."""
    if isinstance(v, str):
        return v or None
    return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _date(v: Any) -> str | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        try:
            return dt.datetime.fromtimestamp(v, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (OverflowError, OSError, ValueError):  # a time no calendar holds
            return None
    return str(v) if isinstance(v, str) and v else None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _notes(*parts: str | None) -> str:
    return "; ".join(p for p in parts if p)


def lm_eval(data: dict[str, Any], file: str, task_type: str) -> Log:
    cfg: dict[str, Any] = data["config"] if isinstance(data.get("config"), dict) else {}
    log = Log(file, "lm-evaluation-harness", _text(data.get("lm_eval_version")),
              _model_arg(cfg.get("model_args")) or _text(data.get("model_name")))
    mapping = known()["lm_eval"]["tasks"]
    for task, metrics in data["results"].items():
        if not isinstance(metrics, dict):
            continue
        mapped = mapping.get(task) or {}
        if not mapped:
            log.unmapped.append(task)
        log.results += _lm_task(data, log, task, metrics, mapped, task_type)
    return log


def _lm_task(data: dict[str, Any], log: Log, task: str, metrics: dict[str, Any], mapped: dict[str, Any],
             task_type: str) -> list[dict[str, Any]]:
    """The results of one task of an lm-evaluation-harness run: one per metric and filter."""
    conf = _dict(_dict(data.get("configs")).get(task))
    shots = _text(_dict(data.get("n-shot")).get(task, conf.get("num_fewshot")))
    task_version = _text(_dict(data.get("versions")).get(task))
    date = _date(data.get("date"))
    values = {k: v for k, v in metrics.items() if "," in k and "_stderr" not in k.split(",")[0] and _number(v)}
    primary = mapped.get("metric") if mapped.get("metric") in values else next(iter(values), None)
    out = []
    for key, value in values.items():
        metric, _, filt = key.partition(",")
        stderr = metrics.get(f"{metric}_stderr,{filt}")
        r: dict[str, Any] = {
            "task_type": task_type, "task_name": (_text(metrics.get("alias")) or task).strip(),
            "dataset_type": str(mapped.get("benchmark") or _text(conf.get("dataset_path")) or task),
            "dataset_name": _pretty(mapped.get("benchmark"), task),
            "dataset_config": _text(conf.get("dataset_name")),
            "dataset_split": _text(conf.get("test_split")) or _text(conf.get("validation_split")),
            "metric_type": metric, "metric_name": metric if filt == "none" else f"{metric} ({filt})",
            "metric_value": value, "date": date,
            "notes": _notes(f"lm-evaluation-harness {log.version or '(version not in the log)'}, task {task}"
                            + (f" v{task_version}" if task_version is not None else ""),
                            f"{shots}-shot" if shots is not None else None,
                            f"filter {filt}" if filt != "none" else None,
                            f"stderr {stderr!r}" if _number(stderr) else None)}
        if mapped.get("task_id") and key == primary:
            r["task_id"] = mapped["task_id"]
        out.append({k: v for k, v in r.items() if v is not None})
    return out


def _pretty(benchmark: str | None, task: str) -> str:
    if benchmark:
        entry = known()["benchmarks"].get(benchmark)
        if entry:
            return str(entry["name"])
    return task


def inspect_ai(data: dict[str, Any], file: str, task_type: str) -> Log:
    ev = data["eval"]
    if data.get("status") not in (None, "success"):
        raise LogError(f"the evaluation did not finish (status {data.get('status')!r})")
    packages = _dict(ev.get("packages"))
    model = _text(ev.get("model"))
    if model and model.count("/") >= 2:  # `hf/owner/name`: the provider first
        model = model.split("/", 1)[1]
    log = Log(file, "inspect-ai", _text(packages.get("inspect_ai")), model)
    task = _text(ev.get("task")) or "task"
    tasks = known()["inspect"]["tasks"]
    mapped = tasks.get(task) or tasks.get(task.rsplit("/", 1)[-1]) or {}
    if not mapped:
        log.unmapped.append(task)
    scores = data["results"].get("scores")
    for score in scores if isinstance(scores, list) else []:
        if not isinstance(score, dict):
            continue
        log.results += _inspect_score(ev, log, task, score, mapped, task_type, first=not log.results)
    if not log.results:
        raise LogError("the log holds no scores")
    return log


def _inspect_score(ev: dict[str, Any], log: Log, task: str, score: dict[str, Any], mapped: dict[str, Any],
                   task_type: str, first: bool) -> list[dict[str, Any]]:
    """The results of one scorer of an inspect-ai log: one per metric (its standard error in the notes)."""
    ds, args, metrics = _dict(ev.get("dataset")), _dict(ev.get("task_args")), _dict(score.get("metrics"))
    stderr = _dict(metrics.get("stderr")).get("value")
    out = []
    for name, m in metrics.items():
        value = m.get("value") if isinstance(m, dict) else None
        if name == "stderr" or not _number(value):
            continue
        r: dict[str, Any] = {
            "task_type": task_type, "task_name": task.rsplit("/", 1)[-1],
            "dataset_type": str(mapped.get("benchmark") or _text(ds.get("location")) or _text(ds.get("name")) or task),
            "dataset_name": _pretty(mapped.get("benchmark"), _text(ds.get("name")) or task),
            "metric_type": name, "metric_value": value,
            "notes": _notes(f"inspect-ai {log.version or '(version not in the log)'}, task {task}"
                            + (f" v{_text(ev.get('task_version'))}" if _text(ev.get("task_version")) else ""),
                            f"scorer {_text(score.get('name'))}",
                            f"{_text(args.get('fewshot'))}-shot" if _text(args.get("fewshot")) else None,
                            f"stderr {stderr!r}" if _number(stderr) else None),
            "date": _text(ev.get("created"))}
        if mapped.get("task_id") and (name == mapped.get("metric") or (first and mapped.get("metric") is None)):
            r["task_id"] = mapped["task_id"]
        first = False
        out.append({k: v for k, v in r.items() if v is not None})
    return out
