"""`cardgen import --merge`: an edit made on the Hub to a README cardgen published comes back into the
sources (a diff first, written only with --write); what cannot be placed is reported, never guessed."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

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
    assert r.code == 0, r.text  # each edit placed: the table cell is a cell of the training table's rows
    assert "+    Beluga is a new technology that carries real risks with use." in r.out
    assert "+    Thanks to the Hub." in r.out
    assert "Try [Stable Chat" in r.out
    assert "+      - '128'" in r.out
    assert "would merge into (pass --write) 1 source file; 0 not merged" in r.err
    assert {p: p.read_bytes() for p in cards.rglob("*") if p.is_file()} == before  # nothing written yet
    r = cli("import", hub, "--repo-id", REPO_ID, "--out", cards, "--merge", "--write")
    assert "merged into 1 source file" in r.err
    assert cli("render", cards, "--out", tmp_path / "again").code == 0
    again = (tmp_path / "again" / REPO_ID / "README.md").read_text().split("\n")
    assert again[:-2] == edit(readme).split("\n")[:-2]  # all but the digest marker
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
    from hubserver import FakeHub, serving

    cards, readme = published
    shutil.copytree(cards, tmp_path / "copy")
    hub = FakeHub()
    hub.files[(REPO_ID, "main")] = {"README.md": edit(readme).encode()}
    with serving(hub, monkeypatch, tmp_path / "hf") as server:
        r = cli("import", REPO_ID, "--out", tmp_path / "copy", "--merge", "--write")
    # the source is named on the Hub in use (HF_ENDPOINT), not on huggingface.co
    assert f"edits from {server.url}/{REPO_ID} merged into 1 source file; 0 not merged" in r.err
    assert "carries real risks" in (tmp_path / "copy" / REPO_ID / "card.yaml").read_text()


# -- a card as `cardgen new` writes it, edited on the Hub ------------------------------------------------

NEW_REPO = "acme/tiny-chat"
#: a section of `{name}`-style prose, added where `cardgen new` scaffolds none
SECTION = """sections:
  - id: intended-use
    heading: Intended use
    body: |
      `{name}` is meant for research on small chat models.
      It is not meant for production.
"""


@pytest.fixture
def scaffolded(cli, tmp_path):
    """A chat card as `cardgen new` writes it now (read at run time, never copied here), with a section of
    `{name}`-style prose where it scaffolds none, rendered (as published): (card.yaml, its data, the README)."""
    cards = tmp_path / "cards"
    assert cli("new", NEW_REPO, "--kind", "chat", "--cards", cards).code == 0
    card = cards / NEW_REPO / "card.yaml"
    data = yaml.safe_load(card.read_text())
    if not _section_line(data):
        card.write_text(card.read_text().rstrip("\n") + "\n" + SECTION)
        data = yaml.safe_load(card.read_text())
    assert cli("render", cards, "--out", tmp_path / "out").code == 0
    return card, data, (tmp_path / "out" / NEW_REPO / "README.md").read_text()


def _section_line(data: dict) -> str | None:
    """A line of `{name}`-style prose in one of the card's sections."""
    for s in data.get("sections") or []:
        if isinstance(s, dict):
            for line in str(s.get("body") or "").split("\n"):
                if "{name}" in line:
                    return line
    return None


def _list_item(data: dict, readme: str) -> tuple[str, str]:
    """A list item of the README that shows a text field of the card as it is written: (field, line)."""
    for key, value in data.items():
        if isinstance(value, str) and key not in ("repo_id", "name", "description", "title"):
            line = next((x for x in readme.split("\n") if x.startswith("* ") and x.endswith(f": {value}")), None)
            if line:
                return key, line
    raise AssertionError("no list item of the README shows a text field of the card")


def _edits(data: dict, readme: str) -> dict[str, tuple[str, str]]:
    """Four edits someone makes on the Hub, as (README text, edited text), built from the card as scaffolded."""
    name = NEW_REPO.split("/")[1]
    prose = _section_line(data).replace("{name}", name)
    described = data["description"].replace("{name}", name)
    _, item = _list_item(data, readme)
    tags = "tags:\n" + "".join(f"- {t}\n" for t in data["tags"])
    assert all(x in readme for x in (prose, described, item, tags))
    return {"section prose": (prose, prose.rstrip(".") + ", and for teaching."),
            "field prose": (described, "In short: " + described),
            "tag added": (tags, tags + "- merged-from-hub\n"),
            "list item": (item, item.rsplit(": ", 1)[0] + ": 1.1B"),
            "tag removed": (tags, "tags:\n" + "".join(f"- {t}\n" for t in data["tags"][1:]) if data["tags"][1:]
                            else "")}


def _merged(cli, card, hub_text, tmp_path):
    hub = tmp_path / "hub.md"
    hub.write_text(hub_text)
    cards = card.parent.parent.parent
    r = cli("import", hub, "--repo-id", NEW_REPO, "--out", cards, "--merge", "--write")
    assert cli("render", cards, "--out", tmp_path / "again").code == 0
    return r, (tmp_path / "again" / NEW_REPO / "README.md").read_text()


@pytest.mark.parametrize("which", ["section prose", "field prose", "tag added", "list item", "all four",
                                   "tag removed"])
def test_an_edit_on_the_hub_to_a_scaffolded_card_is_placed_in_its_source(cli, scaffolded, tmp_path, which):
    card, data, readme = scaffolded
    edits = _edits(data, readme)
    hub_text = readme
    for what, (old, new) in edits.items():
        if which == what or (which == "all four" and what != "tag removed"):
            hub_text = hub_text.replace(old, new, 1)
    r, again = _merged(cli, card, hub_text, tmp_path)
    assert r.code == 0, r.text
    n = 4 if which == "all four" else 1
    assert f"{n} edit{'s' * (n != 1)} from" in r.err and "0 not merged" in r.err
    assert again.split("\n")[:-2] == hub_text.split("\n")[:-2]  # the README renders as edited (but its digest)
    after = yaml.safe_load(card.read_text())
    if which in ("field prose", "all four"):  # the `{name}` the field held is still a variable
        assert after["description"] == "In short: " + data["description"]
    if which in ("section prose", "all four"):
        edited = _section_line(data).rstrip(".") + ", and for teaching."  # with its `{name}`
        assert any(edited in str(s.get("body")) for s in after["sections"] if isinstance(s, dict))
    if which in ("tag added", "all four"):
        assert after["tags"] == [*data["tags"], "merged-from-hub"]
    if which == "tag removed":
        assert after.get("tags") in (data["tags"][1:], None) and (data["tags"][1:] or "tags" not in after)


def test_an_edit_that_cannot_be_placed_names_the_field_and_its_line(cli, scaffolded, tmp_path):
    from conftest import line_of

    card, data, readme = scaffolded
    line = next(x for x in readme.split("\n") if x.startswith("* **Language"))  # codes shown as names
    before = card.read_text()
    r, _ = _merged(cli, card, readme.replace(line, line + ", French"), tmp_path)
    assert r.code == 1
    number = readme.split("\n").index(line) + 1
    assert re.search(rf"hub\.md:{number}:1: CG802 computed from fields `language` \(\S*card\.yaml:"
                     rf"{line_of(card, 'language:')}\)", r.out), r.out
    assert card.read_text() == before  # nothing placed, nothing written


def test_an_edit_whose_place_would_change_other_lines_is_not_merged(cli, tmp_path):
    """The title is the card's `name`, which the description fills in too: placing the Hub's new title in
    `name` would change the description as well, which the Hub did not. Not merged, and said where."""
    card = tmp_path / "cards/acme/tiny/card.yaml"
    card.parent.mkdir(parents=True)
    card.write_text("repo_id: acme/tiny\nname: tiny-model\ndescription: \"`{name}` is small.\"\nlicense: mit\n")
    assert cli("render", tmp_path / "cards", "--out", tmp_path / "out").code == 0
    readme = (tmp_path / "out/acme/tiny/README.md").read_text()
    assert "\n# tiny-model\n" in readme and "`tiny-model` is small." in readme
    hub = tmp_path / "hub.md"
    hub.write_text(readme.replace("\n# tiny-model\n", "\n# Tiny Model\n"))
    before = card.read_text()
    r = cli("import", hub, "--repo-id", "acme/tiny", "--out", tmp_path / "cards", "--merge", "--write")
    assert r.code == 1
    number = readme.split("\n").index("# tiny-model") + 1
    assert re.search(rf"hub\.md:{number}:1: CG802 placed in \S*card\.yaml:2, the edit would change README lines the "
                     "Hub did not change", r.out), r.out
    assert card.read_text() == before


def test_front_matter_edits_to_an_imported_card_land_in_its_fields(cli, tmp_path):
    """An imported GGUF card (tests/corpus/116.md): a value of its `metadata:` pass-through changed on the Hub,
    and tags added where the card had none; both land in card.yaml, and the README renders as edited."""
    cards, repo = tmp_path / "cards", "acme/m-GGUF"
    assert cli("import", REPO / "tests/corpus/116.md", "--repo-id", repo, "--out", cards).code == 0
    assert cli("render", cards, "--out", tmp_path / "out").code == 0
    readme = (tmp_path / "out" / repo / "README.md").read_text()
    hub_text = readme.replace("quantized_by: mradermacher\n", "quantized_by: someone-else\ntags:\n- gguf\n", 1)
    assert hub_text != readme
    hub = tmp_path / "hub.md"
    hub.write_text(hub_text)
    r = cli("import", hub, "--repo-id", repo, "--out", cards, "--merge", "--write")
    assert r.code == 0, r.text
    data = yaml.safe_load((cards / repo / "card.yaml").read_text())
    assert data["metadata"]["quantized_by"] == "someone-else" and data["tags"] == ["gguf"]
    assert cli("render", cards, "--out", tmp_path / "again").code == 0
    from huggingface_hub import ModelCard

    again = (tmp_path / "again" / repo / "README.md").read_text()
    assert ModelCard(again).data.to_dict() == ModelCard(hub_text).data.to_dict()
    assert again.split("---\n", 2)[2].split("\n")[:-2] == hub_text.split("---\n", 2)[2].split("\n")[:-2]
