"""`--changed-since REF`: check and render only the cards whose inputs changed (their sources, the shared
entries and base cards they use, the templates on their path, the vocabulary) or whose committed README
did, dependents included, and report the same drift a full check reports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import CARDS, REPO, edit


def git(*args: str, cwd) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"})


@pytest.fixture
def tree(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "tree"
    root.mkdir()
    shutil.copytree(CARDS, root / "cards")
    shutil.copytree(REPO / "rendered", root / "rendered")
    git("init", "-q", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-qm", "cards", cwd=root)
    return root


def drifted(r) -> set[str]:
    return set(re.findall(r"rendered/([^/\s]+/[^/\s]+)/README\.md is (?:out of date|missing)", r.out))


def both(cli, tree):
    """(the drift a full check reports, the drift `--changed-since HEAD` reports, and what it checked)"""
    full = cli("check", "cards", "--out", "rendered", cwd=tree)
    some = cli("check", "cards", "--out", "rendered", "--changed-since", "HEAD", cwd=tree)
    checked = int(re.search(r"(\d+) cards?:", some.err).group(1))
    return drifted(full), drifted(some), checked, some


def test_nothing_changed_checks_nothing(cli, tree):
    full, some, checked, r = both(cli, tree)
    assert full == some == set() and checked == 0 and r.code == 0


def test_a_base_card_change_reaches_every_card_that_extends_or_embeds_it(cli, tree):
    edit(tree / "cards/stabilityai/StableBeluga2/card.yaml", "parameters: 70B", "parameters: 70 billion")
    full, some, checked, r = both(cli, tree)
    assert some == full and {"stabilityai/StableBeluga2", "TheBloke/StableBeluga2-70B-GPTQ"} <= full
    assert "stabilityai/StableBeluga-7B" not in some and r.code == 1
    assert checked < 10  # the other cards were left alone


def test_a_partial_change_reaches_the_cards_that_use_it(cli, tree):
    footer = tree / "cards/TheBloke/_templates/footer.md.j2"
    footer.write_text(footer.read_text() + "\nOne more line.\n")
    full, some, checked, _ = both(cli, tree)
    assert some == full == {"TheBloke/StableBeluga2-70B-GPTQ"} and checked == 1


def test_a_shared_entry_change_reaches_the_cards_that_reference_it(cli, tree):
    edit(tree / "cards/_shared/citations.yaml", "Llama 2: Open Foundation", "Llama 2: Open, Foundation")
    full, some, _, _ = both(cli, tree)
    assert some == full and full  # every card citing Llama 2, and no other


def test_a_hand_edited_readme_is_checked(cli, tree):
    p = tree / "rendered/stabilityai/StableBeluga-7B/README.md"
    p.write_text(p.read_text().replace("Stable Beluga 7B", "Stable Beluga Seven", 1))
    full, some, checked, _ = both(cli, tree)
    assert some == full == {"stabilityai/StableBeluga-7B"} and checked == 1


def test_render_writes_only_the_affected_readmes(cli, tree):
    edit(tree / "cards/stabilityai/StableBeluga-7B/card.yaml", "parameters: 7B", "parameters: 7 billion")
    r = cli("render", "cards", "--out", "rendered", "--changed-since", "HEAD", cwd=tree)
    assert r.code == 0
    assert re.findall(r"written\s+rendered/(\S+)/README\.md", r.err) == ["stabilityai/StableBeluga-7B"]
    assert "unchanged" not in r.err  # the others were not even rendered


def test_an_unknown_revision_is_a_usage_error(cli, tree):
    r = cli("check", "cards", "--changed-since", "no-such-ref", cwd=tree)
    assert r.code == 2 and "--changed-since no-such-ref" in r.err
