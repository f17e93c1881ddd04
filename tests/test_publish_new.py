"""`cardgen publish` for repositories that do not exist yet (`--create`, `--private`), pull requests
reported as such with their address, addresses on the Hub in use (`HF_ENDPOINT`), and a last line that
counts what failed. Against the loopback Hub (tests/hubserver.py)."""

from __future__ import annotations

import re

import pytest

from conftest import CARDS, REPO
from hubserver import FakeHub, serving

B7 = "stabilityai/StableBeluga-7B"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    fake = FakeHub()  # no repository at all
    with serving(fake, monkeypatch, tmp_path / "hf-home"):
        yield fake


def publish(cli, *args):
    return cli("publish", *args, CARDS / "stabilityai/StableBeluga-7B")


def last_line(r) -> str:
    return r.err.rstrip("\n").splitlines()[-1]


def test_a_missing_repository_says_to_use_create_and_the_last_line_counts_the_failure(cli, hub):
    r = publish(cli)
    assert r.code == 1, r.text
    assert re.search(rf"{B7}\s+main\s+failed\s+.*does not exist on the Hub.*publish with --create", r.out), r.out
    assert hub.created == [] and hub.commit_requests() == []
    assert re.fullmatch(r"1 target: 1 failed, 0 errors, \d+ warnings?", last_line(r)), r.err


def test_create_makes_the_repository_then_publishes(cli, hub):
    r = publish(cli, "--create", "--private")
    assert r.code == 0, r.text
    assert hub.created == [(B7, True)]
    assert hub.readme(B7) == (REPO / "rendered" / B7 / "README.md").read_text("utf-8")
    assert re.search(rf"{B7}\s+main\s+published\s+created \(private\) {re.escape(hub.url)}/{B7}; "
                     rf"{re.escape(hub.url)}/{B7}/commit/[0-9a-f]{{40}}$", r.out, re.M), r.out
    assert "published: 1, unchanged: 0, skipped: 0, failed: 0 (1 created)" in r.out
    assert re.fullmatch(r"1 target: 0 errors, \d+ warnings?", last_line(r)), r.err
    again = publish(cli, "--create")  # it exists now: nothing created, the README is unchanged
    assert again.code == 0 and hub.created == [(B7, True)] and re.search(rf"{B7}\s+main\s+unchanged", again.out)


def test_create_in_a_dry_run_creates_nothing(cli, hub):
    r = publish(cli, "--create", "--dry-run")
    assert r.code == 0, r.text
    assert "would publish" in r.out and "a new repository, created by --create" in r.out and "+# Stable Beluga 7B" in r.out
    assert hub.created == [] and not any(q.method == "POST" for q in hub.requests)


def test_private_without_create_is_a_usage_error(cli, hub):
    assert publish(cli, "--private").code == 2


def test_a_pull_request_is_reported_as_one_with_its_address_on_the_hub_in_use(cli, hub):
    hub.files[(B7, "main")] = {}
    hub.answers_as = "https://huggingface.co"  # a Hub behind a proxy spells its own address
    r = publish(cli, "--create-pr")
    assert r.code == 0, r.text
    assert re.search(rf"{B7}\s+main\s+pull request\s+opened {re.escape(hub.url)}/{B7}/discussions/1$", r.out, re.M), r.out
    assert "pull request: 1" in r.out and "huggingface.co" not in r.out
    assert hub.readme(B7) is None


def test_a_commit_address_follows_hf_endpoint(cli, hub):
    hub.files[(B7, "main")] = {}
    hub.answers_as = "https://huggingface.co"
    r = publish(cli)
    assert r.code == 0, r.text
    assert f"{hub.url}/{B7}/commit/" in r.out and "huggingface.co" not in r.out


def test_a_failed_commit_says_so_in_the_last_line(cli, hub):
    hub.files[(B7, "main")] = {}
    hub.fail[r"/commit/"] = 403
    r = publish(cli, "--format", "github")
    assert r.code == 1
    assert re.fullmatch(r"1 target: 1 failed, 0 errors, \d+ warnings?", last_line(r)), r.err
    j = publish(cli, "--format", "json")
    assert '"failures": {\n    "failed": 1,\n    "skipped": 0\n  }' in j.out
