"""`cardgen publish` against a loopback Hub: the real huggingface_hub client, recorded requests."""

from __future__ import annotations

import base64
import re

import pytest

from conftest import CARDS, REPO, edit
from hubserver import FakeHub, HubServer

B7 = "stabilityai/StableBeluga-7B"
GPTQ = "TheBloke/StableBeluga2-70B-GPTQ"


def committed(repo: str) -> str:
    return (REPO / "rendered" / repo / "README.md").read_text("utf-8")


@pytest.fixture
def hub(monkeypatch, tmp_path):
    fake = FakeHub()
    for repo in (B7, GPTQ, "stabilityai/StableBeluga2"):
        fake.files[(repo, "main")] = {}
    with HubServer(fake) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", fake.token)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield fake


def publish(cli, *args, cards=CARDS / "stabilityai/StableBeluga-7B"):
    return cli("publish", *args, cards)


def assert_no_token(hub, r):
    assert hub.token not in r.text
    assert hub.token[-8:] not in r.text


def test_dry_run_prints_a_diff_and_changes_nothing(cli, hub):
    hub.files[(B7, "main")]["README.md"] = b"---\nlicense: mit\n---\n# Old card\n"
    r = publish(cli, "--dry-run", "--force")
    assert r.code == 0, r.text
    assert "-# Old card" in r.out and "+# Stable Beluga 7B" in r.out
    assert "would publish" in r.out
    assert hub.commit_requests() == [] and not any(q.method == "POST" for q in hub.requests)
    assert_no_token(hub, r)


def test_publish_commits_the_exact_readme_to_main(cli, hub):
    r = publish(cli, "--message", "Sync card")
    assert r.code == 0, r.text
    [c] = hub.commit_requests()
    assert c.path == f"/api/models/{B7}/commit/main" and "create_pr" not in c.query
    header, *files = c.ndjson()
    assert header == {"key": "header", "value": {"summary": "Sync card", "description": ""}}
    assert [f["value"]["path"] for f in files] == ["README.md"]
    assert base64.b64decode(files[0]["value"]["content"]).decode() == committed(B7)
    assert c.headers["authorization"] == f"Bearer {hub.token}"
    assert re.search(rf"{B7}\s+main\s+published", r.out)
    assert "published: 1, unchanged: 0, skipped: 0, failed: 0" in r.out
    assert_no_token(hub, r)


def test_an_unchanged_card_sends_no_commit(cli, hub):
    hub.files[(B7, "main")]["README.md"] = committed(B7).encode()
    r = publish(cli)
    assert r.code == 0
    assert hub.commit_requests() == []
    assert re.search(rf"{B7}\s+main\s+unchanged", r.out)


def test_create_pr_opens_a_pull_request(cli, hub):
    r = publish(cli, "--create-pr")
    assert r.code == 0, r.text
    [c] = hub.commit_requests()
    assert c.query == {"create_pr": ["1"]}
    assert "/discussions/" in r.out
    assert hub.readme(B7) is None  # main untouched until the PR is merged


def test_variants_go_to_their_branches(cli, hub):
    branches = ["gptq-4bit-32g-actorder_True", "gptq-4bit-64g-actorder_True", "gptq-4bit-128g-actorder_True",
                "gptq-3bit-128g-actorder_True", "gptq-3bit-128g-actorder_False", "gptq-3bit--1g-actorder_True",
                "gptq-4bit-128g-actorder_False", "gptq-3bit-64g-actorder_True"]
    for b in branches:
        hub.files[(GPTQ, b)] = {}
    r = publish(cli, "--variants", "--jobs", "4", cards=CARDS / "TheBloke")
    assert r.code == 0, r.text
    paths = sorted(c.path for c in hub.commit_requests())
    assert paths == sorted(f"/api/models/{GPTQ}/commit/{b}" for b in ["main", *branches])
    assert hub.readme(GPTQ, "gptq-3bit--1g-actorder_True") == committed(GPTQ)
    assert "[9/9]" in r.err


def test_missing_branch_is_one_clear_line(cli, hub):
    r = publish(cli, "--revision", "nope")
    assert r.code == 1
    assert f"{B7}@nope" in r.err or "nope" in r.out
    assert "branch 'nope' does not exist" in r.text
    assert "Traceback" not in r.text


def test_an_invalid_card_sends_nothing(cli, hub, cards, tmp_path):
    edit(cards / "stabilityai/StableBeluga-7B/card.yaml", "language: [en]", "language: [english]")
    r = cli("publish", "--out", tmp_path / "none", cards / "stabilityai/StableBeluga-7B")
    assert r.code == 1
    assert hub.requests == []
    assert "CG205" in r.out and "fails validation" in r.out


def test_a_stale_committed_readme_is_refused(cli, hub, cards, tmp_path):
    (tmp_path / "rendered" / B7).mkdir(parents=True)
    (tmp_path / "rendered" / B7 / "README.md").write_text("# hand edited\n")
    r = cli("publish", "--out", tmp_path / "rendered", cards / "stabilityai/StableBeluga-7B")
    assert r.code == 1 and hub.requests == [] and "run `cardgen render` first" in r.out


def test_wrong_token_is_a_clear_401(cli, hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_secret_token_987654321")
    r = publish(cli)
    assert r.code == 1
    assert "authentication failed (401)" in r.text
    assert "hf_wrong_secret_token_987654321" not in r.text and "Traceback" not in r.text
    assert hub.commit_requests() == []


@pytest.mark.parametrize("status,words", [(403, "permission denied (403)"), (404, "not found (404)"),
                                          (429, "rate limited by the Hub (429)"), (503, "the Hub answered 503")])
def test_http_errors_are_one_line_each(cli, hub, status, words):
    hub.fail[r"/commit/"] = status
    r = publish(cli)
    assert r.code == 1
    lines = [ln for ln in r.text.splitlines() if words in ln]
    assert lines, r.text
    assert "Traceback" not in r.text
    assert_no_token(hub, r)


def test_network_error_is_one_line(cli, hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    import huggingface_hub.utils._http as hf_http

    monkeypatch.setattr(hf_http.time, "sleep", lambda s: None)  # the client's own retries, without the waits
    r = publish(cli)
    assert r.code == 1
    assert "network error (ConnectError) from http://127.0.0.1:9" in r.text and "Traceback" not in r.text
    assert_no_token(hub, r)


def test_a_hub_out_of_reach_is_not_taken_for_a_repo_without_readme(cli, hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    import huggingface_hub.utils._http as hf_http

    monkeypatch.setattr(hf_http.time, "sleep", lambda s: None)
    r = publish(cli, "--dry-run")
    assert r.code == 1
    assert "would publish" not in r.out.split("published:")[0] and "new README" not in r.text
    assert "network error (ConnectError) from http://127.0.0.1:9" in r.text


def test_readme_edited_on_the_hub_is_not_overwritten_without_force(cli, hub):
    edited = committed(B7).replace("# Stable Beluga 7B", "# Stable Beluga 7B (edited on the Hub)")
    hub.files[(B7, "main")]["README.md"] = edited.encode()
    r = publish(cli)
    assert r.code == 1 and hub.commit_requests() == []
    assert "edited since cardgen published it" in r.out
    r = publish(cli, "--force")
    assert r.code == 0 and len(hub.commit_requests()) == 1
    assert hub.readme(B7) == committed(B7)


def test_a_previous_cardgen_readme_is_replaced(cli, hub):
    from cardgen.rendering.provenance import seal

    hub.files[(B7, "main")]["README.md"] = seal("---\nlicense: mit\n---\n\n# Older render\n").encode()
    r = publish(cli)
    assert r.code == 0, r.text
    assert len(hub.commit_requests()) == 1


def test_a_hand_written_readme_needs_force(cli, hub):
    hub.files[(B7, "main")]["README.md"] = b"---\nlicense: mit\n---\n# Written by hand\n"
    r = publish(cli)
    assert r.code == 1 and "not written by cardgen" in r.out and hub.commit_requests() == []


def test_no_token_at_all(cli, hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    r = publish(cli)
    assert r.code == 1 and "no Hugging Face token" in r.err and hub.requests == []


def test_dry_run_as_json_reports_diffs_and_warnings(cli, hub):
    import json

    hub.files[(B7, "main")]["README.md"] = b"---\nlicense: mit\n---\n# Old card\n"
    r = publish(cli, "--dry-run", "--force", "--format", "json")
    assert r.code == 0, r.text
    doc = json.loads(r.out)  # stdout is one JSON document: the diff travels inside it
    [target] = doc["results"]
    assert target["repo"] == B7 and target["status"] == "would publish" and "+# Stable Beluga 7B" in target["diff"]
    assert doc["warnings"] == 1 and doc["diagnostics"][0]["code"] == "CG606"
    assert hub.commit_requests() == []
    assert_no_token(hub, r)


# -- bounded time, lost answers, interrupts ---------------------------------------------------------
def test_a_hung_commit_is_reported_within_the_timeout(cli, hub):
    import time

    hub.hang[r"/commit/"] = 15
    t0 = time.monotonic()
    r = publish(cli, "--timeout", "2", "--deadline", "6")
    took = time.monotonic() - t0
    assert r.code == 1 and took < 12, (took, r.text)
    assert re.search(rf"{B7}\s+main\s+failed", r.out), r.out
    hub.hang.clear()


def test_the_default_bounds_are_under_a_minute():
    from cardgen.commands.publish import PublishOptions

    o = PublishOptions()
    assert o.timeout < 60 and o.deadline < 60 and o.retry_after_cap <= 10


def test_a_long_retry_after_is_capped(cli, hub):
    import time

    hub.once[r"/resolve/"] = (429, {"Retry-After": "3600"})
    t0 = time.monotonic()
    r = publish(cli, "--dry-run", "--retry-after-cap", "1")
    assert time.monotonic() - t0 < 20, r.text
    assert r.code == 0 and "would publish" in r.out, r.text


def test_a_commit_stored_but_answered_502_is_reported_as_published(cli, hub):
    hub.stored_then[r"/commit/"] = 502
    r = publish(cli)
    assert r.code == 0, r.text
    assert re.search(rf"{B7}\s+main\s+published\s+the Hub's answer was lost", r.out), r.out
    assert hub.readme(B7) == committed(B7)


def test_a_403_on_reading_says_read(cli, hub):
    hub.fail[r"/resolve/"] = 403
    r = publish(cli)
    assert r.code == 1 and "reading the README: permission denied (403): the token cannot read" in r.out, r.out


def test_a_readme_too_large_to_read_is_refused(cli, hub):
    hub.files[(B7, "main")]["README.md"] = b"x" * 5000
    r = publish(cli, "--dry-run", "--max-readme-bytes", "1000")  # the default is 10 MiB
    assert r.code == 1 and "the Hub's answer is 5,000 bytes; cardgen reads at most 1,000" in r.out, r.out


def test_a_ctrl_c_stops_new_work_and_prints_the_summary(hub, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    hub.hang[r"/resolve/"] = 4
    env = {**os.environ, "CARDGEN_CACHE_DIR": "off"}
    p = subprocess.Popen([sys.executable, "-m", "cardgen", "publish", "--dry-run", "--timeout", "10",
                          str(CARDS / "stabilityai")], cwd=REPO, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    while not any("/resolve/" in q.path for q in hub.requests) and time.monotonic() - started < 60:
        time.sleep(0.01)  # until the first target is under way (its README request hangs at the Hub)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=40)
    hub.hang.clear()
    assert p.returncode == 130, (out, err)
    assert "stopping: no new repository is started" in err
    assert "interrupted before it started" in out  # the summary table, with the targets not started
    assert "repository" in out.splitlines()[-4] or "repository" in out


def test_an_edit_on_the_hub_between_download_and_commit_is_not_overwritten(cli, hub):
    from cardgen.rendering.provenance import seal

    older = seal("---\nlicense: mit\n---\n\n# Older render\n")
    hub.files[(B7, "main")]["README.md"] = older.encode()
    hand_edit = older.replace("Older render", "Edited by hand just now").encode()
    hub.before_commit = lambda repo, rev: hub.edit(repo, rev, "README.md", hand_edit)  # someone was faster
    r = publish(cli)
    hub.before_commit = None
    assert r.code == 1, r.text
    assert re.search(rf"{B7}\s+main\s+skipped\s+edited on the Hub since it was compared", r.out), r.out
    assert hub.files[(B7, "main")]["README.md"] == hand_edit  # the hand edit is intact
    [c] = hub.commit_requests()
    assert c.ndjson()[0]["value"]["parentCommit"] == "a" * 40  # the revision the README was compared at
