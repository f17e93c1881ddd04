"""`cardgen smoke` and the local Hugging Face cache: a snapshot that holds no model (the README alone, as
`cardgen import` leaves one) is "not available", with the reason, never loaded; in the checkout, with an
empty cache and no network, `smoke --tokenizer-only` skips every bundled card not given with --model-path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

pytest.importorskip("torch", reason="the [smoke] extra is not installed")
pytest.importorskip("transformers")

README_ONLY = ["cardgen-examples/tiny-chat", "cardgen-examples/tiny-chat-GGUF", "stabilityai/StableBeluga-7B"]


def readme_only_snapshot(hub_cache, repo: str) -> None:
    """The cache entry `hf_hub_download(repo, "README.md")` leaves: refs/main and a snapshot with the README."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    folder = hub_cache / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(sha)
    (folder / "snapshots" / sha).mkdir(parents=True)
    (folder / "snapshots" / sha / "README.md").write_text("---\nlicense: mit\n---\n# A card\n")


def smoke_in_checkout(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_", "TRANSFORMERS_"))}
    env |= {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "CARDGEN_CACHE_DIR": str(tmp_path / "cardgen"),
            "NO_COLOR": "1"}
    report = tmp_path / "smoke.json"
    r = subprocess.run([sys.executable, "-m", "cardgen", "smoke", "--tokenizer-only", "--json", str(report), *args],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    return r, json.loads(report.read_text())["results"] if report.is_file() else []


def test_tokenizer_only_in_the_checkout_skips_every_card_not_given(tmp_path):
    (tmp_path / "hf").mkdir()
    for repo in README_ONLY:
        readme_only_snapshot(tmp_path / "hf" / "hub", repo)
    r, results = smoke_in_checkout(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert results and all(d["skipped"] and not d["failures"] for d in results), r.stdout
    by_name = {d["name"]: d["skipped"] for d in results}
    for repo in README_ONLY:
        assert by_name[repo] == (f"not available locally: the cached snapshot of {repo} holds only README.md: no "
                                 f"config.json and no GGUF file; give --model-path {repo}=DIR, or --allow-download "
                                 "to fetch it"), by_name[repo]
    assert by_name["stabilityai/StableBeluga2"].startswith("not available locally: give --model-path")
    assert "0 failed" in r.stdout and "FAIL" not in r.stdout
    assert not (tmp_path / "hf" / "hub" / "models--stabilityai--StableBeluga2").exists()  # nothing fetched


def test_a_failed_model_is_counted_in_the_last_line(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = cli("smoke", REPO / "cards/stabilityai/StableBeluga-7B", "--model-path",
            f"stabilityai/StableBeluga-7B={tmp_path / 'nope'}")
    assert r.code == 1
    last = r.err.rstrip("\n").splitlines()[-1]
    assert last.startswith("1 model: 1 failed, 0 errors, "), r.err
