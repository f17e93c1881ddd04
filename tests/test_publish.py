"""`cardgen publish` against a loopback Hub: the real huggingface_hub client, recorded requests."""

from __future__ import annotations

import base64
import re

import pytest

from conftest import CARDS, REPO, edit, warned
from hubserver import FakeHub, serving

B7 = "stabilityai/StableBeluga-7B"
GPTQ = "TheBloke/StableBeluga2-70B-GPTQ"


def committed(repo: str) -> str:
    return (REPO / "rendered" / repo / "README.md").read_text("utf-8")


@pytest.fixture
def hub(monkeypatch, tmp_path):
    fake = FakeHub()
    for repo in (B7, GPTQ, "stabilityai/StableBeluga2"):
        fake.files[(repo, "main")] = {}
    with serving(fake, monkeypatch, tmp_path / "hf-home"):
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


def test_dry_run_as_json_reports_diffs_and_warnings(cli, hub, cards):
    import json

    hub.files[(B7, "main")]["README.md"] = b"---\nlicense: mit\n---\n# Old card\n"
    r = publish(cli, "--dry-run", "--force", "--format", "json", cards=warned(cards) / B7)
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


# -- the process's own bounds: time and memory, measured on a child process --------------------------
MiB = 1024 * 1024


#: runs a command and writes its exit code and peak memory (KiB): the command is forked from this small
#: process, not from pytest, whose size Linux would count in the child's peak (it keeps it across exec)
_MEASURED = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[2:]); _, status, usage = os.wait4(p.pid, 0); "
             "open(sys.argv[1], 'w').write(f'{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}')")


def publish_process(hub, tmp_path, *args, limit: float = 120) -> tuple[int, str, float, float]:
    """`cardgen publish` in a child process against the loopback Hub: (exit code, output, seconds it ran,
    its peak memory in MB). The child alone is measured (``os.wait4``), killed after ``limit`` s."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "HF_HOME": str(tmp_path / "hf-home"),
           "CARDGEN_CACHE_DIR": "off"}
    env.pop("HF_HUB_OFFLINE", None)
    measured = tmp_path / "measured"
    with open(tmp_path / "publish.out", "w+", encoding="utf-8") as out:
        started = time.monotonic()
        p = subprocess.Popen([sys.executable, "-c", _MEASURED, str(measured), sys.executable, "-m", "cardgen", "publish",
                              *args, str(CARDS / B7)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
        watchdog = threading.Timer(limit, os.killpg, (p.pid, signal.SIGKILL))
        watchdog.start()
        p.wait()
        took = time.monotonic() - started
        watchdog.cancel()
        out.seek(0)
        code, kib = measured.read_text().split() if measured.exists() else (p.returncode, 0)
        return int(code), out.read(), took, int(kib) / 1024  # ru_maxrss: KiB on Linux


def test_a_head_never_answered_ends_the_process_within_the_deadline(hub, tmp_path):
    hub.held.add(("HEAD", r"/resolve/"))
    code, out, took, _ = publish_process(hub, tmp_path, "--dry-run", "--deadline", "6")  # --timeout 20: the time left
    print(f"HEAD never answered, --deadline 6: the process ended after {took:.1f} s")
    assert code == 1 and took < 6 + 10, (took, out)
    assert re.search(rf"{B7}\s+main\s+failed", out) and "Traceback" not in out, out


def test_an_answer_that_trickles_in_ends_the_process_within_the_deadline(hub, tmp_path):
    import time

    def trickle(request):  # a byte at a time, each well within the read timeout: only the deadline stops it
        while not hub.released.is_set():
            yield b" "
            time.sleep(0.2)

    hub.files[(B7, "main")]["README.md"] = b"---\nlicense: mit\n---\n# Old card\n"
    hub.streamed[("GET", r"/resolve/")] = (trickle, None)
    code, out, took, _ = publish_process(hub, tmp_path, "--force", "--timeout", "2", "--deadline", "5", limit=60)
    print(f"an answer trickling in, --deadline 5: the process ended after {took:.1f} s")
    assert code == 1 and took < 5 + 10, (took, out)  # it ran until killed, the summary long written
    assert re.search(rf"{B7}\s+main\s+failed", out) and hub.commit_requests() == [], out


def test_headers_that_never_end_do_not_keep_the_process_alive(hub, tmp_path):
    import time

    def slow_headers(request):  # a header a byte at a time: no answer starts, no read waits long
        yield b"HTTP/1.1 200 OK\r\nX-Slow: "
        ends = time.monotonic() + 50
        while not hub.released.is_set() and time.monotonic() < ends:
            yield b"a"
            time.sleep(0.2)

    hub.raw[("HEAD", r"/resolve/")] = slow_headers
    code, out, took, _ = publish_process(hub, tmp_path, "--dry-run", "--timeout", "2", "--deadline", "5", limit=60)
    print(f"headers never ending, --deadline 5: the process ended after {took:.1f} s")
    assert code == 1 and took < 5 + 10, (took, out)  # the summary is written at the deadline, and the process ends
    assert re.search(rf"{B7}\s+main\s+failed\s+no answer from the Hub within 5 s", out), out


def _json_of(size: int):
    chunk = b"x" * MiB  # one chunk, sent again and again: the test holds no more than this

    def answer(request):
        yield b'{"commitUrl": "https://example.org", "pad": "'
        for _ in range(size // MiB):
            yield chunk
        yield b'"}'
    return answer


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "with-content-length"])
def test_a_300_mib_answer_is_not_read_whole(hub, tmp_path, declared):
    size = 300 * MiB
    hub.streamed[("POST", r"/commit/")] = (_json_of(size), size + 47 if declared else None)
    code, out, took, peak_mb = publish_process(hub, tmp_path)
    assert code == 1 and re.search(rf"{B7}\s+main\s+failed\s+committing the README: the Hub's answer is", out), out
    print(f"a 300 MiB answer ({'declared' if declared else 'chunked'}): peak memory {peak_mb:.0f} MB, {took:.1f} s")
    assert peak_mb < 200, f"{peak_mb:.0f} MB"


@pytest.mark.parametrize("method,path", [("GET", r"/resolve/"), ("POST", r"/commit/")])
def test_an_endless_answer_ends_at_the_byte_cap(hub, tmp_path, method, path):
    import itertools

    hub.files[(B7, "main")]["README.md"] = b"---\nlicense: mit\n---\n# Old card\n"
    hub.streamed[(method, path)] = (lambda request: itertools.repeat(b"x" * 65536), None)
    code, out, took, peak_mb = publish_process(hub, tmp_path, "--force", "--max-readme-bytes", str(5 * MiB), limit=60)
    assert code == 1 and "the Hub's answer is over 5,242,880 bytes, the most cardgen reads" in out, out
    print(f"an endless answer to {method}: ended after {took:.1f} s, peak memory {peak_mb:.0f} MB")
    assert took < 30 and peak_mb < 200, (took, peak_mb)


# -- the gate: what publish refuses whatever its flags, and what --strict adds

def test_a_card_with_a_placeholder_is_refused_whatever_the_flags_or_the_policy(cli, hub, cards, monkeypatch):
    edit(cards / B7 / "card.yaml", "description: \"`{name}` is", "description: \"TODO: `{name}` is")
    monkeypatch.chdir(cards.parent)
    (cards.parent / "cardgen.toml").write_text('severity = { CG410 = "off" }\n')  # the policy hides the warning
    for flags in (("--dry-run",), ("--dry-run", "--force"), ("--force",), ()):
        r = publish(cli, *flags, cards=cards / B7)
        assert r.code == 1, r.text
        assert re.search(rf"{B7}\s+main\s+skipped\s+1 placeholder left \(CG410\), the first at .*card.yaml:\d+ "
                         r"\(`description`\): publish refuses a card with placeholders whatever the flags", r.out), r.out
        assert "would publish: " not in r.out and "published: 0, unchanged: 0, skipped: 1" in r.out
    assert hub.commit_requests() == [] and not any("/resolve/" in q.path for q in hub.requests)


def test_a_todo_in_a_base_card_is_refused_in_its_derivative(cli, hub, cards, monkeypatch):
    monkeypatch.chdir(cards.parent)
    edit(cards / "stabilityai/StableBeluga2/card.yaml", "parameters: 70B", "parameters: TODO")
    r = publish(cli, "--dry-run", cards=cards / "TheBloke")
    assert r.code == 1 and re.search(rf"{GPTQ}\s+main\s+skipped\s+1 placeholder left", r.out), r.out


def test_strict_publishes_no_card_with_a_warning(cli, hub, cards, monkeypatch):
    monkeypatch.chdir(cards.parent)
    warned(cards)  # a warning in the shared catalogue every card is built from
    r = publish(cli, "--dry-run", "--force", cards=cards / B7)
    assert r.code == 0 and "would publish" in r.out, r.text
    r = publish(cli, "--dry-run", "--force", "--strict", cards=cards / B7)
    assert r.code == 1
    assert re.search(rf"{B7}\s+main\s+skipped\s+--strict: \d+ warnings? in the files it is built from, the first at "
                     r".*mitigations.yaml:\d+: CG60[56]", r.out), r.out


def test_a_warning_the_policy_raises_to_an_error_stops_the_card(cli, hub, cards, monkeypatch):
    monkeypatch.chdir(cards.parent)
    warned(cards)
    (cards.parent / "cardgen.toml").write_text('severity = { CG606 = "error" }\n')
    r = publish(cli, "--dry-run", "--force", cards=cards / B7)
    assert r.code == 1 and re.search(r"mitigations.yaml:\d+:\d+: CG606 mitigation M22", r.out), r.out
    assert re.search(rf"{B7}\s+main\s+skipped", r.out) and "would publish: " not in r.out
