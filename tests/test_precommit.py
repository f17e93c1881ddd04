"""The pre-commit hooks, run by pre-commit itself from a temporary git repository that uses this project
as its hook repository (at the commit checked out here), on a good card, a bad card and a stale README.

pre-commit installs the hook repository into an environment of its own with pip; the test keeps that
offline: no package index, no build isolation, and this environment's packages on the path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from conftest import REPO, edit

pytest.importorskip("pre_commit", reason="the [test] extra is not installed")


def git(*args: str, cwd) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}).stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if rev.returncode != 0:
        pytest.skip("this checkout is not a git repository: pre-commit needs one to use it as a hook repository")
    root = tmp_path_factory.mktemp("precommit")
    repo = root / "repo"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    shutil.copytree(REPO / "cards", repo / "cards")
    shutil.copytree(REPO / "rendered", repo / "rendered")
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {REPO}\n    rev: {rev.stdout.strip()}\n    hooks:\n"
        "      - id: cardgen-validate\n      - id: cardgen-check\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "cards", cwd=repo)
    env = {**os.environ, "PRE_COMMIT_HOME": str(root / "home"), "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
           "PYTHONPATH": sysconfig.get_paths()["purelib"], "NO_COLOR": "1"}
    return repo, env


def run_hooks(project) -> subprocess.CompletedProcess:
    repo, env = project
    return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_hooks_pass_on_good_cards_and_fail_on_a_bad_card_or_a_stale_readme(project):
    repo, _ = project
    good = run_hooks(project)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.count("Passed") == 2 and "cardgen validate" in good.stdout and "cardgen check" in good.stdout
    card = repo / "cards/stabilityai/StableBeluga-7B/card.yaml"
    text = card.read_text()
    edit(card, "pipeline_tag: text-generation", "pipeline_tag: text-generation\nlicense_typo: mit")
    bad = run_hooks(project)
    assert bad.returncode == 1 and "CG102 unknown key 'license_typo'" in bad.stdout
    card.write_text(text)
    readme = repo / "rendered/stabilityai/StableBeluga-7B/README.md"
    readme.write_text(readme.read_text().replace("Stable Beluga 7B", "Stable Beluga Seven", 1))
    stale = run_hooks(project)
    assert stale.returncode == 1 and "CG708" in stale.stdout and "Stable Beluga Seven" in stale.stdout
