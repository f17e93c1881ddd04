"""Derived cards name their origin: the body of a quantised, converted or fine-tuned card links the model it
comes from (its model details), and every scaffold of `cardgen new` offers a description, an intended-use
and a limitations section for the author to fill."""

from __future__ import annotations

import pytest

from conftest import REPO

KINDS = ["base", "chat", "classifier", "embedding", "gguf", "gptq", "awq"]


@pytest.mark.parametrize("readme, line", [
    ("stabilityai/StableBeluga-7B", "* **Fine-tuned from**: [meta-llama/Llama-2-7b-hf](https://huggingface.co/meta-llama/Llama-2-7b-hf)"),
    ("cardgen-examples/tiny-chat-GGUF", "* **Quantized from**: [cardgen-examples/tiny-chat](https://huggingface.co/cardgen-examples/tiny-chat)"),
    ("cardgen-examples/tiny-sentiment", "* **Fine-tuned from**: [google-bert/bert-base-uncased](https://huggingface.co/google-bert/bert-base-uncased)"),
    ("petals-team/StableBeluga2", "* **Base model**: [stabilityai/StableBeluga2](https://huggingface.co/stabilityai/StableBeluga2)"),
])
def test_a_derived_bundled_card_links_its_origin(cli, tmp_path, readme, line):
    assert cli("render", REPO / "cards", "--out", tmp_path).code == 0
    assert line in (tmp_path / readme / "README.md").read_text().splitlines()
    assert line in (REPO / "rendered" / readme / "README.md").read_text().splitlines()  # committed as rendered


def test_a_card_without_a_base_names_none(cli, tmp_path):
    assert cli("render", REPO / "cards/cardgen-examples/tiny-chat", "--out", tmp_path).code == 0
    text = (tmp_path / "cardgen-examples/tiny-chat/README.md").read_text()
    assert "from**:" not in text and "**Base model**" not in text


@pytest.mark.parametrize("kind, extends", [(k, None) for k in KINDS] + [(k, "acme/base") for k in ("gguf", "gptq", "awq")])
def test_every_scaffold_offers_description_intended_use_and_limitations(cli, tmp_path, kind, extends):
    cards = tmp_path / "cards"
    assert cli("new", "acme/base", "--kind", "chat", "--cards", cards).code == 0
    repo = f"acme/new-{kind}" + ("-e" if extends else "")
    assert cli("new", repo, "--kind", kind, "--cards", cards, *(["--extends", extends] if extends else [])).code == 0
    assert cli("render", cards / repo, "--out", tmp_path / "out").code == 0
    text = (tmp_path / "out" / repo / "README.md").read_text()
    for heading in ("## Model Description", "## Intended use", "## Limitations"):
        assert f"{heading}\n\nTODO: " in text, (heading, text)
    if extends:
        assert "[acme/base](https://huggingface.co/acme/base)" in text.split("## Intended use")[0]  # the description
        assert "* **Quantized from**: [acme/base](https://huggingface.co/acme/base)" in text
