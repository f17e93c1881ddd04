"""The GitHub Action (action.yml), its steps run in order as a runner would: annotations, the job
summary and the exit codes, on the bundled cards, a broken copy and a stale one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from conftest import BUNDLED, CARDS, REPO, edit

ACTION = yaml.safe_load((REPO / "action.yml").read_text())


def run_action(workdir: Path, tmp: Path, event: str = "pull_request", **inputs: str) -> list[tuple[str, int, str]]:
    """Run the steps in order, stopping at the first that fails (as GitHub does); (id, exit code, output)."""
    values = {k: v.get("default", "") for k, v in ACTION["inputs"].items()} | inputs
    summary = tmp / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(tmp), "CARDGEN_CACHE_DIR": "off"}
    done = []
    for step in ACTION["runs"]["steps"]:
        if step["id"] == "install":  # the test environment has cardgen installed already
            assert "pip install" in step["run"] and "github.action_path" in step["run"]
            continue
        if "if" in step and values.get("publish") != "true":
            continue
        script = re.sub(r"\$\{\{\s*inputs\.(\w+)\s*\}\}", lambda m: values[m.group(1)], step["run"])
        script = script.replace("${{ github.event_name }}", event)
        p = subprocess.run(["bash", "-e", "-c", script], cwd=workdir, env=env, capture_output=True, text=True,
                           timeout=300)
        done.append((step["id"], p.returncode, p.stdout + p.stderr))
        if p.returncode:
            break
    return done


def _copy(tmp: Path) -> Path:
    work = tmp / "repo"
    shutil.copytree(CARDS, work / "cards")
    shutil.copytree(REPO / "rendered", work / "rendered")
    return work


def test_the_action_passes_on_the_bundled_cards_and_summarises(tmp_path):
    steps = run_action(_copy(tmp_path), tmp_path)
    assert [(s, code) for s, code, _ in steps] == [("validate", 0), ("check", 0)]
    assert "::warning file=cards/_shared/mitigations.yaml,line=21" in steps[0][2]  # annotations, warnings too
    summary = (tmp_path / "summary.md").read_text()
    assert f"### cardgen check: {BUNDLED} cards: 0 errors, 3 warnings" in summary


def test_a_broken_card_fails_the_action_with_an_annotation_on_its_line(tmp_path):
    work = _copy(tmp_path)
    edit(work / "cards/stabilityai/StableBeluga-7B/card.yaml", "language: [en]", "language: [english]")
    steps = run_action(work, tmp_path)
    assert [(s, code) for s, code, _ in steps] == [("validate", 1)]  # the job stops there
    assert re.search(r"^::error file=cards/stabilityai/StableBeluga-7B/card.yaml,line=9,col=\d+,title=CG205::",
                     steps[0][2], re.M), steps[0][2]


def test_a_stale_readme_fails_the_check_with_the_drift_in_the_summary(tmp_path):
    work = _copy(tmp_path)
    edit(work / "cards/stabilityai/StableBeluga-7B/card.yaml", "license: stable-beluga-nc", "license: mit")
    steps = run_action(work, tmp_path)
    assert [(s, code) for s, code, _ in steps] == [("validate", 0), ("check", 1)]
    summary = (tmp_path / "summary.md").read_text()
    assert "<details><summary><code>rendered/stabilityai/StableBeluga-7B/README.md</code>: out of date" in summary
    assert '| `license` | `"other"` | `"mit"` |' in summary and "````diff" in summary
