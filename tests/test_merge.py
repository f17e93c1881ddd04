"""`cardgen import --merge`: an edit made on the Hub to a README cardgen published comes back into the
sources (a diff first, written only with --write); what cannot be placed is reported, never guessed."""

from __future__ import annotations

import re
import shutil

import pytest

from conftest import REPO

SEED = next((REPO / "tests/seeds").glob("000_*.txt"))
REPO_ID = "stabilityai/StableBeluga-7B"


@pytest.fixture
def published(cli, tmp_path):
    """The seed imported, and the README cardgen renders from it (as published on the Hub)."""
    assert cli("import", SEED, "--repo-id", REPO_ID, "--out", tmp_path / "cards").code == 0
    assert cli("render", tmp_path / "cards", "--out", tmp_path / "out").code == 0
    return tmp_path / "cards", (tmp_path / "out" / REPO_ID / "README.md").read_text()


def edit(text: str) -> str:
    """What someone changed on the Hub: a sentence, a one-line paragraph, a new section, a table cell."""
    out = text.replace("carries risks with use.", "carries real risks with use.")
    out = out.replace("Use [Stable Chat", "Try [Stable Chat")
    out = out.replace("## Citations", "## Acknowledgements\n\nThanks to the Hub.\n\n## Citations")
    out = out.replace("| 256 ", "| 128 ")
    assert out.count("\n") == text.count("\n") + 4
    return out


def test_an_edit_made_on_the_hub_is_shown_then_written_into_the_sources(cli, published, tmp_path):
    cards, readme = published
    hub = tmp_path / "hub.md"
    hub.write_text(edit(readme))
    before = {p: p.read_bytes() for p in cards.rglob("*") if p.is_file()}
    r = cli("import", hub, "--repo-id", REPO_ID, "--out", cards, "--merge")
    assert r.code == 1  # one edit could not be placed: the table is computed from fields
    assert "+    Beluga is a new technology that carries real risks with use." in r.out
    assert "+    Thanks to the Hub." in r.out
    assert "Try [Stable Chat" in r.out
    assert re.search(r"hub\.md:\d+:1: CG802 computed from fields", r.out)
    assert "would merge into (pass --write) 1 source file; 1 not merged" in r.err
    assert {p: p.read_bytes() for p in cards.rglob("*") if p.is_file()} == before  # nothing written yet
    r = cli("import", hub, "--repo-id", REPO_ID, "--out", cards, "--merge", "--write")
    assert "merged into 1 source file" in r.err
    assert cli("render", cards, "--out", tmp_path / "again").code == 0
    again = (tmp_path / "again" / REPO_ID / "README.md").read_text().split("\n")
    wanted = edit(readme).split("\n")
    differ = [(a, b) for a, b in zip(again[:-2], wanted[:-2], strict=True) if a != b]
    assert len(differ) == 1 and "128" in differ[0][1]  # only the table cell, which the report named
    assert not list(cards.rglob("*.tmp"))


def test_sources_changed_since_publishing_are_not_merged_over(cli, published, tmp_path):
    cards, readme = published
    hub = tmp_path / "hub.md"
    hub.write_text(edit(readme))
    card = cards / REPO_ID / "card.yaml"
    card.write_text(card.read_text().replace("Stable Beluga 7B", "Stable Beluga Seven"))
    r = cli("import", hub, "--repo-id", REPO_ID, "--out", cards, "--merge", "--write")
    assert r.code == 2 and "no longer render the README that was published" in r.err
    assert "Stable Beluga Seven" in card.read_text()


def test_a_readme_cardgen_did_not_write_or_a_card_without_sources_is_refused(cli, published, tmp_path):
    cards, readme = published
    hub = tmp_path / "hub.md"
    hub.write_text(SEED.read_text())
    r = cli("import", hub, "--repo-id", REPO_ID, "--out", cards, "--merge")
    assert r.code == 2 and "was not written by cardgen" in r.err
    r = cli("import", hub, "--repo-id", "acme/other", "--out", cards, "--merge")
    assert r.code == 2 and "no sources" in r.err
    r = cli("import", hub, "--repo-id", REPO_ID, "--out", cards, "--write")
    assert r.code == 2 and "--write goes with --merge" in r.err


def test_merge_fetches_the_hub_readme(cli, published, tmp_path, monkeypatch):
    from hubserver import FakeHub, HubServer

    cards, readme = published
    shutil.copytree(cards, tmp_path / "copy")
    hub = FakeHub()
    hub.files[(REPO_ID, "main")] = {"README.md": edit(readme).encode()}
    with HubServer(hub) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", hub.token)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        r = cli("import", REPO_ID, "--out", tmp_path / "copy", "--merge", "--write")
    # the source is named on the Hub in use (HF_ENDPOINT), not on huggingface.co
    assert f"edits from {server.url}/{REPO_ID} merged into 1 source file; 1 not merged" in r.err
    assert "carries real risks" in (tmp_path / "copy" / REPO_ID / "card.yaml").read_text()
