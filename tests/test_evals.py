"""Evaluation results written once (issue 28): the card's `evaluation:` gives the README table, the
`model-index` and `.eval_results/*.yaml`, which huggingface_hub reads back to the same values; benchmark
identity; `cardgen evals add` from evaluation logs; import of `.eval_results/` and README score tables;
publishing only the results the Hub does not hold yet."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import CARDS

THREE = """\
repo_id: acme/evaluated
name: Evaluated
description: "`{name}` is a small model with three evaluation results."
license: apache-2.0
library_name: transformers
pipeline_tag: text-generation
evaluation:
  - {task_type: text-generation, dataset_type: Idavidrein/gpqa, dataset_name: GPQA, dataset_config: gpqa_diamond,
     metric_type: accuracy, metric_value: 0.41234, task_id: gpqa_diamond, notes: "0-shot, lm-evaluation-harness 0.4.8",
     source_name: Eval logs, source_url: "https://huggingface.co/datasets/acme/evaluated-logs"}
  - {task_type: text-generation, dataset_type: TIGER-Lab/MMLU-Pro, dataset_name: MMLU-Pro, metric_type: exact_match,
     metric_value: 38.5, task_id: mmlu_pro, date: "2026-01-15"}
  - {task_type: text-generation, dataset_type: openai/gsm8k, dataset_name: GSM8K, dataset_config: main,
     metric_type: exact_match, metric_value: 0.7012345678901234, task_id: main}
"""


def project(tmp_path: Path, card: str = THREE) -> Path:
    root = tmp_path / "cards"
    (root / "_shared").mkdir(parents=True)
    shutil.copy(CARDS / "_shared" / "licenses.yaml", root / "_shared" / "licenses.yaml")
    (root / "acme" / "evaluated").mkdir(parents=True)
    (root / "acme" / "evaluated" / "card.yaml").write_text(card, "utf-8")
    return root


def table_values(readme: str) -> dict[str, str]:
    """Dataset -> Value cell of the README's evaluation table."""
    lines = [ln for ln in readme.splitlines() if ln.startswith("| ")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    out = {}
    for ln in lines[1:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        row = dict(zip(head, cells, strict=True))
        out[row["Dataset"].split(" (")[0]] = row["Value"]
    return out


def test_three_results_agree_in_the_table_model_index_and_eval_results(cli, tmp_path):
    from huggingface_hub import parse_eval_result_entries
    from huggingface_hub.repocard_data import model_index_to_eval_results

    from cardgen.frontmatter import mapping, split

    cards, out = project(tmp_path), tmp_path / "out"
    r = cli("render", "--out", out, cards)
    assert r.code == 0, r.text
    folder = out / "acme" / "evaluated"
    readme = (folder / "README.md").read_text("utf-8")
    files = sorted(p.name for p in (folder / ".eval_results").iterdir())
    assert files == ["MMLU-Pro.yaml", "gpqa.yaml", "gsm8k.yaml"]
    entries = [e for f in files for e in parse_eval_result_entries(
        yaml.safe_load((folder / ".eval_results" / f).read_text("utf-8")))]
    from_files = {e.dataset_id: (e.task_id, e.value) for e in entries}
    name, results = model_index_to_eval_results(mapping(split(readme)[0])["model-index"])
    from_index = {e.dataset_type: e.metric_value for e in results}
    expected = {"Idavidrein/gpqa": 0.41234, "TIGER-Lab/MMLU-Pro": 38.5, "openai/gsm8k": 0.7012345678901234}
    assert name == "evaluated"
    assert from_index == expected
    assert {k: v for k, (_, v) in from_files.items()} == expected
    assert {k: t for k, (t, _) in from_files.items()} == {"Idavidrein/gpqa": "gpqa_diamond",
                                                           "TIGER-Lab/MMLU-Pro": "mmlu_pro", "openai/gsm8k": "main"}
    table = table_values(readme.split("## Evaluation", 1)[1] if "## Evaluation" in readme else readme)
    assert {k: float(v) for k, v in table.items()} == {"GPQA": 0.41234, "MMLU-Pro": 38.5, "GSM8K": 0.7012345678901234}
    gpqa = next(e for e in entries if e.dataset_id == "Idavidrein/gpqa")
    assert (gpqa.notes, gpqa.source_name) == ("0-shot, lm-evaluation-harness 0.4.8", "Eval logs")
    # `check` finds the files as rendered; a file edited, removed or left over is drift
    assert cli("check", "--out", out, cards).code == 0
    (folder / ".eval_results" / "gsm8k.yaml").write_text("- {dataset: {id: openai/gsm8k, task_id: main}, value: 1}\n")
    (folder / ".eval_results" / "old.yaml").write_text("[]\n")
    r = cli("check", "--out", out, cards)
    assert r.code == 1 and "gsm8k.yaml is out of date" in r.text and "old.yaml is stale" in r.text
    assert cli("render", "--out", out, cards).code == 0
    assert sorted(p.name for p in (folder / ".eval_results").iterdir()) == files
    assert cli("check", "--out", out, cards).code == 0


ONE = """\
repo_id: acme/evaluated
name: Evaluated
description: "`{name}` is a small model."
license: apache-2.0
evaluation:
  - {task_type: text-generation, dataset_type: BENCH, dataset_name: Bench, metric_type: accuracy, metric_value: 0.5,
     task_id: TASK}
"""


def one(bench: str, task: str) -> str:
    return ONE.replace("BENCH", bench).replace("TASK", task)


def test_benchmark_tasks_are_checked_against_eval_yaml_else_the_known_list_else_a_warning(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    cards = project(tmp_path, one("Idavidrein/gpqa", "gpqa_diamond"))
    card = cards / "acme" / "evaluated" / "card.yaml"
    r = cli("validate", cards)  # the official list (with its date) knows the task
    assert r.code == 0 and "CG65" not in r.text, r.text
    card.write_text(one("Idavidrein/gpqa", "gpqa_main"), "utf-8")
    r = cli("validate", cards)
    assert r.code == 0 and "CG652" in r.text and "cardgen's list of official benchmarks" in r.text
    card.write_text(one("acme/bench", "t1"), "utf-8")
    r = cli("validate", cards)
    assert r.code == 0 and "CG651" in r.text and "not checked" in r.text
    # the benchmark's own eval.yaml in the Hub cache is the authority (never downloaded by validate)
    snap = tmp_path / "hub" / "datasets--acme--bench" / "snapshots" / ("b" * 40)
    snap.mkdir(parents=True)
    (snap / "eval.yaml").write_text("name: Bench\ntasks:\n  - {id: t1, config: default, split: test}\n", "utf-8")
    r = cli("validate", cards)  # the card is the same: its folder is checked again all the same
    assert r.code == 0 and "CG65" not in r.text, r.text
    card.write_text(one("acme/bench", "t2"), "utf-8")
    r = cli("validate", cards)
    assert r.code == 1 and "CG650" in r.text and "defines no task 't2'" in r.text
    # a local copy of the dataset (CARDGEN_BENCHMARKS) comes first
    local = tmp_path / "local"
    (local / "acme" / "bench").mkdir(parents=True)
    (local / "acme" / "bench" / "eval.yaml").write_text("tasks:\n  - {id: t2}\n", "utf-8")
    monkeypatch.setenv("CARDGEN_BENCHMARKS", str(local))
    assert cli("validate", cards).code == 0


def test_two_results_for_one_benchmark_task_are_refused(cli, tmp_path):
    two = one("Idavidrein/gpqa", "gpqa_diamond") + (
        "  - {task_type: text-generation, dataset_type: Idavidrein/gpqa, dataset_name: GPQA, metric_type: f1,\n"
        "     metric_value: 0.6, task_id: gpqa_diamond}\n")
    r = cli("validate", project(tmp_path, two))
    assert r.code == 1 and "CG653" in r.text and "evaluation[0]" in r.text


def test_vocabulary_rebuilds_the_official_benchmarks_from_their_eval_yaml(cli, tmp_path):
    import json

    src = tmp_path / "benchmarks" / "Idavidrein" / "gpqa"
    src.mkdir(parents=True)
    (src / "eval.yaml").write_text("name: GPQA\nevaluation_framework: inspect-ai\ntasks:\n"
                                   "  - {id: gpqa_diamond, config: gpqa_diamond, split: train}\n"
                                   "  - {id: gpqa_main, config: gpqa_main, split: train}\n", "utf-8")
    r = cli("vocabulary", "--benchmarks", tmp_path / "benchmarks", "--out", tmp_path / "out")
    assert r.code == 0, r.text
    data = json.loads((tmp_path / "out" / "benchmarks.json").read_text("utf-8"))
    assert data["benchmarks"] == {"Idavidrein/gpqa": {"name": "GPQA", "tasks": ["gpqa_diamond", "gpqa_main"],
                                                      "evaluation_framework": "inspect-ai"}}
    assert "eval.yaml" in data["source"] and data["date"] and "gsm8k" in data["lm_eval"]["tasks"]
    assert cli("vocabulary", "--benchmarks", tmp_path / "out", "--out", tmp_path / "x").code == 2


LOGS = Path(__file__).parent / "fixtures" / "evals"
LM_EVAL = LOGS / "results_2026-01-15T10-00-00.123456.json"
PLAIN = """\
# the card before any evaluation
repo_id: acme/evaluated
name: Evaluated
description: "`{name}` is a small model."
license: apache-2.0
pipeline_tag: text-generation

# kept as written
library_name: transformers
"""


def table_rows(readme: str) -> dict[tuple[str, str], str]:
    """(Task, Metric) -> Value cell of the README's evaluation table."""
    lines = [ln for ln in readme.splitlines() if ln.startswith("| ")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [dict(zip(head, [c.strip() for c in ln.strip("|").split("|")], strict=True)) for ln in lines[1:]]
    return {(r["Task"], r["Metric"]): r["Value"] for r in rows}


def test_evals_add_fills_evaluation_with_the_logs_values_exactly(cli, tmp_path, monkeypatch):
    import json

    from huggingface_hub import parse_eval_result_entries
    from huggingface_hub.repocard_data import model_index_to_eval_results

    from cardgen.frontmatter import mapping, split

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    cards = project(tmp_path, PLAIN)
    card = cards / "acme" / "evaluated" / "card.yaml"
    r = cli("evals", "add", card.parent, LM_EVAL)
    assert r.code == 0, r.text
    text = card.read_text("utf-8")
    assert text.startswith(PLAIN), "the rest of the card source is kept as written"
    log = json.loads(LM_EVAL.read_text("utf-8"))
    expected = {(task, key.split(",")[0] + ("" if key.endswith(",none") else f" ({key.split(',')[1]})")): v
                for task, ms in log["results"].items() for key, v in ms.items()
                if "," in key and "_stderr" not in key}
    assert len(expected) == 8
    out = tmp_path / "out"
    r = cli("render", "--out", out, cards)
    assert r.code == 0, r.text
    readme = (out / "acme" / "evaluated" / "README.md").read_text("utf-8")
    assert {k: float(v) for k, v in table_rows(readme).items()} == expected
    _, results = model_index_to_eval_results(mapping(split(readme)[0])["model-index"])
    assert {(e.task_name, e.metric_name): e.metric_value for e in results} == expected
    # the benchmarks cardgen knows go to .eval_results/, with the harness, its version and the n-shot as notes
    files = out / "acme" / "evaluated" / ".eval_results"
    entries = {e.dataset_id: e for f in sorted(files.iterdir())
               for e in parse_eval_result_entries(yaml.safe_load(f.read_text("utf-8")))}
    assert {k: (e.task_id, e.value) for k, e in entries.items()} == {
        "Idavidrein/gpqa": ("gpqa_diamond", log["results"]["gpqa_diamond_zeroshot"]["acc_norm,none"]),
        "openai/gsm8k": ("main", log["results"]["gsm8k"]["exact_match,strict-match"])}
    notes = entries["Idavidrein/gpqa"].notes or ""
    assert "lm-evaluation-harness 0.4.8" in notes and "0-shot" in notes and "stderr 0.03154449888270285" in notes
    assert entries["openai/gsm8k"].date == "2026-01-15T10:00:00Z"
    # tasks of no known benchmark are said so; adding the same log again replaces, never duplicates
    r = cli("evals", "add", card, LM_EVAL)
    assert r.code == 0 and "CG656" in r.text and "hellaswag" in r.text and "8 replacing" in r.text
    assert card.read_text("utf-8").count("metric_value") == 8


def test_evals_add_reads_an_inspect_log_and_refuses_another_models(cli, tmp_path):
    cards = project(tmp_path, PLAIN)
    card = cards / "acme" / "evaluated" / "card.yaml"
    r = cli("evals", "add", card, LOGS / "inspect-gpqa.json")
    assert r.code == 0, r.text
    data = yaml.safe_load(card.read_text("utf-8"))["evaluation"]
    assert [(e["dataset_type"], e.get("task_id"), e["metric_type"], e["metric_value"]) for e in data] == [
        ("Idavidrein/gpqa", "gpqa_diamond", "accuracy", 0.4128787878787879)]
    assert "inspect-ai 0.3.120" in data[0]["notes"]
    other = tmp_path / "other.json"
    other.write_text(LM_EVAL.read_text("utf-8").replace("pretrained=acme/evaluated", "pretrained=/ckpt/step-900"))
    before = card.read_text("utf-8")
    r = cli("evals", "add", card, other)
    assert r.code == 1 and "CG654" in r.text and "/ckpt/step-900" in r.text
    assert card.read_text("utf-8") == before
    r = cli("evals", "add", card, other, "--model-differs", "the final checkpoint, uploaded as acme/evaluated")
    assert r.code == 0, r.text
    notes = [e["notes"] for e in yaml.safe_load(card.read_text("utf-8"))["evaluation"]]
    assert notes[-1].endswith("evaluated as /ckpt/step-900: the final checkpoint, uploaded as acme/evaluated")
    (tmp_path / "junk.json").write_text('{"a": 1}')
    data = yaml.safe_load(card.read_text("utf-8"))["evaluation"]
    holders = [e["notes"].split(",")[0] for e in data if e.get("task_id") == "gpqa_diamond"]
    assert holders == ["lm-evaluation-harness 0.4.8"], "the newer log's result takes the benchmark task"
    assert cli("validate", cards).code == 0
    r = cli("evals", "add", card, tmp_path / "junk.json")
    assert r.code == 1 and "CG655" in r.text


@pytest.fixture
def hub(monkeypatch, tmp_path):
    from hubserver import FakeHub, serving

    fake = FakeHub()
    with serving(fake, monkeypatch, tmp_path / "hf-home"):
        yield fake


def _evaluation(card: Path) -> list[dict]:
    return yaml.safe_load(card.read_text("utf-8"))["evaluation"]


def test_import_reads_eval_results_and_a_score_table_to_the_same_evaluation(cli, tmp_path, hub):
    cards, out = project(tmp_path), tmp_path / "out"
    assert cli("render", "--out", out, cards).code == 0
    original = yaml.safe_load(THREE)["evaluation"]
    folder = out / "acme" / "evaluated"
    # a folder: the README's model-index and the .eval_results/ files beside it
    r = cli("import", out, "--out", tmp_path / "a")
    assert r.code == 0, r.text
    from_index = _evaluation(tmp_path / "a" / "acme" / "evaluated" / "card.yaml")
    assert from_index == original
    # the same README without its model-index: the score table and .eval_results/ give the same results
    readme = (folder / "README.md").read_text("utf-8")
    head, _, body = readme.partition("\n---\n")
    table_only = tmp_path / "t" / "acme" / "evaluated"
    table_only.mkdir(parents=True)
    (table_only / "README.md").write_text("---\n" + head.split("model-index:")[0].lstrip("-\n") + "---\n" + body)
    shutil.copytree(folder / ".eval_results", table_only / ".eval_results")
    r = cli("import", tmp_path / "t", "--out", tmp_path / "b")
    assert r.code == 0, r.text
    assert "score table became `evaluation:`" in r.text
    assert _evaluation(tmp_path / "b" / "acme" / "evaluated" / "card.yaml") == original
    # a Hub repository: its README and .eval_results/ files
    hub.files[("acme/evaluated", "main")] = {p.relative_to(folder).as_posix(): p.read_bytes()
                                             for p in folder.rglob("*") if p.is_file()}
    r = cli("import", "acme/evaluated", "--out", tmp_path / "c")
    assert r.code == 0, r.text
    assert _evaluation(tmp_path / "c" / "acme" / "evaluated" / "card.yaml") == original
    # rendered again, the imported card gives the same .eval_results/ files
    assert cli("render", "--out", tmp_path / "again", tmp_path / "c").code == 0
    again = tmp_path / "again" / "acme" / "evaluated" / ".eval_results"
    assert {p.name: p.read_text() for p in again.iterdir()} == {p.name: p.read_text()
                                                                for p in (folder / ".eval_results").iterdir()}


def _entry(dataset: str, task: str, value: float) -> bytes:
    return yaml.safe_dump([{"dataset": {"id": dataset, "task_id": task}, "value": value}]).encode()


def test_publish_lists_results_on_the_hub_or_in_a_pull_request_and_publishes_only_the_new(cli, tmp_path, hub):
    cards, out = project(tmp_path), tmp_path / "out"
    assert cli("render", "--out", out, cards).code == 0
    repo = "acme/evaluated"
    hub.files[(repo, "main")] = {".eval_results/gpqa.yaml": (out / repo / ".eval_results" / "gpqa.yaml").read_bytes()}
    pr = hub.open_pr(repo, {".eval_results/mmlu-pro-by-someone.yaml": _entry("TIGER-Lab/MMLU-Pro", "mmlu_pro", 38.5)})
    hub.pr_status[(repo, hub.open_pr(repo, {".eval_results/x.yaml": _entry("openai/gsm8k", "main", 0.7012345678901234)}))] = "closed"
    r = cli("publish", "--dry-run", "--out", out, cards)
    assert r.code == 0, r.text
    lines = {ln.split("  ")[2].split(" =")[0]: ln for ln in r.out.splitlines() if ".eval_results/" in ln}
    assert "already on main (.eval_results/gpqa.yaml)" in lines["Idavidrein/gpqa gpqa_diamond"]
    assert f"already in open pull request #{pr}" in lines["TIGER-Lab/MMLU-Pro mmlu_pro"]
    assert lines["openai/gsm8k main"].endswith(": new"), "a closed pull request does not hold it"
    assert not hub.commit_requests()
    r = cli("publish", "--out", out, cards)
    assert r.code == 0, r.text
    (commit,) = hub.commit_requests()
    sent = sorted(ln["value"]["path"] for ln in commit.ndjson() if ln.get("key") == "file")
    assert sent == [".eval_results/gsm8k.yaml", "README.md"]
    # published: nothing new the second time; a changed value is published again
    r = cli("publish", "--dry-run", "--out", out, cards)
    assert r.code == 0 and "new" not in [ln.rsplit(": ", 1)[-1] for ln in r.out.splitlines()], r.text
    card = cards / repo / "card.yaml"
    card.write_text(card.read_text("utf-8").replace("metric_value: 0.41234", "metric_value: 0.45"), "utf-8")
    assert cli("render", "--out", out, cards).code == 0
    r = cli("publish", "--dry-run", "--out", out, cards)
    assert "changed (main has 0.41234 in .eval_results/gpqa.yaml)" in r.out, r.out


def test_publish_flags_the_results_of_a_derived_model(cli, tmp_path, hub):
    cards = project(tmp_path, THREE.replace("pipeline_tag: text-generation\n",
                                            "pipeline_tag: text-generation\nbase_model: acme/base\n"))
    out = tmp_path / "out"
    assert cli("render", "--out", out, cards).code == 0
    hub.files[("acme/evaluated", "main")] = {".eval_results/broken.yaml": b"- {value: 1}\n"}
    r = cli("publish", "--dry-run", "--out", out, cards)
    assert r.code == 0, r.text
    assert "CG657" in r.text and ".eval_results/broken.yaml: not read" in r.text
    assert r.out.count("[derived model]") == 3 and "leaderboards leave its results out by default" in r.text
    import json

    r = cli("publish", "--dry-run", "--format", "json", "--out", out, cards)
    (target,) = json.loads(r.out)["results"]
    assert {(x["dataset"], x["state"], x["derived"]) for x in target["results"]} == {
        ("Idavidrein/gpqa", "new", True), ("TIGER-Lab/MMLU-Pro", "new", True), ("openai/gsm8k", "new", True)}


def test_evals_check_fetches_eval_yaml_only_when_allowed(cli, tmp_path, hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    hub.files[("datasets/acme/bench", "main")] = {"eval.yaml": b"name: Bench\ntasks:\n  - {id: t1}\n  - {id: t2}\n"}
    card = project(tmp_path, one("acme/bench", "t2")) / "acme" / "evaluated" / "card.yaml"
    r = cli("evals", "check", card)
    assert r.code == 0 and "CG651" in r.text and not hub.requests, "nothing is fetched without --allow-download"
    assert cli("evals", "check", card, "--strict").code == 1, "an unchecked benchmark task fails a strict run"
    r = cli("evals", "check", card, "--allow-download")
    assert r.code == 0 and "CG65" not in r.text, r.text
    assert list((tmp_path / "hub-cache").glob("datasets--acme--bench/snapshots/*/eval.yaml"))
    card.write_text(one("acme/bench", "t3"), "utf-8")
    r = cli("evals", "check", card)  # from the cache now, offline
    assert r.code == 1 and "CG650" in r.text and "defines no task 't3'" in r.text


def test_evals_add_rewrites_only_the_evaluation_block(cli, tmp_path):
    before = PLAIN.replace("# kept as written\n", "evaluation:\n  - {task_type: text-generation, dataset_type: x/y,"
                           " dataset_name: Y, metric_type: f1, metric_value: 0.5}   # by hand\n\n# kept as written\n")
    card = project(tmp_path, before) / "acme" / "evaluated" / "card.yaml"
    r = cli("evals", "add", card, LOGS / "inspect-gpqa.json", "--format", "json")
    assert r.code == 0, r.text
    after = card.read_text("utf-8")
    head, _, tail = before.partition("evaluation:")
    assert after.startswith(head) and after.endswith("\n\n# kept as written\nlibrary_name: transformers\n")
    assert [e["dataset_type"] for e in _evaluation(card)] == ["x/y", "Idavidrein/gpqa"]
    import json

    doc = json.loads(r.out)
    assert [(x["dataset"], x["value"]) for x in doc["results"]] == [("Idavidrein/gpqa", 0.4128787878787879)]
