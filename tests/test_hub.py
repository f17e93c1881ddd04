"""`cardgen.hub`, the one Hub client, against a loopback Hub that misbehaves: each bound it keeps (the
deadline of an operation, the attempts of a request, the longest Retry-After, the size of an answer)
holds, and ends the request with one line saying which."""

from __future__ import annotations

import itertools
import time

import pytest

from hubserver import FakeHub, serving

REPO_ID = "org/model"
OLD = b"---\nlicense: mit\n---\n# Old card\n"


@pytest.fixture
def fake(monkeypatch, tmp_path):
    hub = FakeHub()
    hub.files[(REPO_ID, "main")] = {"README.md": OLD}
    with serving(hub, monkeypatch, tmp_path / "hf-home", token=False):
        yield hub


def read(fake, tmp_path, **bounds):
    """(the README read, or the one line explaining why not; the seconds it took)."""
    from cardgen.hub import Bounds, Hub, explain

    hub = Hub(Bounds(**bounds), token=fake.token)
    started = time.monotonic()
    try:
        text, _ = hub.readme(REPO_ID, "main", str(tmp_path / "download"))
    except Exception as e:  # noqa: BLE001 - the line a user reads
        return explain(e, REPO_ID, "main", "reading the README"), time.monotonic() - started
    return text, time.monotonic() - started


def gets(fake) -> int:
    return sum(r.method == "GET" and "/resolve/" in r.path for r in fake.requests)


def test_a_readme_is_read(fake, tmp_path):
    text, _ = read(fake, tmp_path)
    assert text == OLD.decode()


def test_a_head_never_answered_ends_at_the_deadline(fake, tmp_path):
    fake.held.add(("HEAD", r"/resolve/"))
    line, took = read(fake, tmp_path, timeout=20, deadline=3)  # each attempt waits the time left, not 20 s
    assert 2.5 < took < 3 + 2, (took, line)
    assert "ReadTimeout" in line or "within the deadline of 3 s" in line, line


def test_the_deadline_of_an_outer_operation_holds_inside_a_longer_one(fake, tmp_path):
    from cardgen.hub import Bounds, operation

    fake.held.add(("HEAD", r"/resolve/"))
    with operation(Bounds(deadline=2)):
        line, took = read(fake, tmp_path, timeout=20, deadline=50)
    assert took < 2 + 2, (took, line)


def test_a_request_is_tried_at_most_its_attempts(fake, tmp_path):
    fake.fail[r"/resolve/"] = 503
    line, took = read(fake, tmp_path, attempts=2)
    heads = [r for r in fake.requests if r.method == "HEAD"]
    assert len(heads) <= 2 and took < 10, (len(heads), took)
    assert "503" in line, line


def test_a_long_retry_after_is_obeyed_only_up_to_its_cap(fake, tmp_path):
    fake.once[r"/resolve/"] = (429, {"Retry-After": "3600"})
    text, took = read(fake, tmp_path, retry_after_cap=1)
    assert text == OLD.decode() and took < 10, (took, text)


def test_an_endless_answer_stops_at_the_byte_cap(fake, tmp_path):
    fake.streamed[("GET", r"/resolve/")] = (lambda request: itertools.repeat(b"x" * 65536), None)
    line, took = read(fake, tmp_path, max_bytes=1024 * 1024)
    assert line == "reading the README: the Hub's answer is over 1,048,576 bytes, the most cardgen reads"
    assert took < 10 and gets(fake) == 1  # not tried again


def test_an_answer_declared_too_large_is_not_read(fake, tmp_path):
    declared = 300 * 1024 * 1024
    fake.streamed[("GET", r"/resolve/")] = (lambda request: itertools.repeat(b"x" * 65536), declared)
    line, took = read(fake, tmp_path, max_bytes=1024 * 1024)
    assert line == "reading the README: the Hub's answer is 314,572,800 bytes; cardgen reads at most 1,048,576"
    assert took < 10


def test_an_answer_that_trickles_in_stops_at_the_deadline(fake, tmp_path):
    def trickle(request):  # a byte at a time, each well within the read timeout; for 20 s at most
        ends = time.monotonic() + 20
        while not fake.released.is_set() and time.monotonic() < ends:
            yield b" "
            time.sleep(0.1)

    fake.streamed[("GET", r"/resolve/")] = (trickle, None)
    line, took = read(fake, tmp_path, timeout=1, deadline=3)
    assert took < 3 + 1 + 1, (took, line)
    assert "the Hub's answer did not end within the deadline of 3 s" in line, line
