"""A kind's typed facts as the card alone can judge them (CG430-CG434): a classifier's `labels` and an
embedding model's `embedding`, shown in the README's model details. (The smoke test compares them with the
model's files: `test_smoke_wrong_encoders.py`.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

CLASSIFIER = {"pipeline_tag": "text-classification", "usage": {"message": "I loved it."}}
EMBEDDER = {"pipeline_tag": "sentence-similarity", "usage": {"sentences": ["one", "two"]}}


def card(root: Path, **fields) -> Path:
    folder = root / "cards/acme/tiny"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "card.yaml").write_text(yaml.safe_dump({"repo_id": "acme/tiny", "license": "apache-2.0", **fields}),
                                      "utf-8")
    return root / "cards"


def test_labels_and_embedding_facts_are_shown_in_the_readme(cli, tmp_path):
    out = tmp_path / "out"
    assert cli("render", card(tmp_path, **CLASSIFIER, labels=["NEGATIVE", "POSITIVE"]), "--out", out).code == 0
    assert "* **Labels**: `NEGATIVE`, `POSITIVE`\n" in (out / "acme/tiny/README.md").read_text()
    facts = {"pooling": "mean", "normalize": True, "dimensions": 384, "max_seq_length": 256}
    r = cli("render", card(tmp_path / "e", **EMBEDDER, embedding=facts), "--out", out)
    assert r.code == 0 and "warning" not in r.out, r.out
    assert ("* **Embeddings**: 384 dimensions, mean pooling, normalised to unit length, inputs truncated to 256 "
            "tokens\n") in (out / "acme/tiny/README.md").read_text()


@pytest.mark.parametrize("fields, line", [
    ({**CLASSIFIER, "labels": ["LABEL_0", "LABEL_1"]}, "CG430 warning: the labels LABEL_0, LABEL_1 are the names "
                                                       "transformers gives labels nobody named"),
    ({**EMBEDDER, "labels": ["A", "B"]}, "CG431 warning: `labels` describe a classifier's answers, but the card's "
                                         "snippet style is 'feature-extraction'"),
    ({**CLASSIFIER, "labels": ["A", "B", "A"]}, "CG432 warning: label(s) A listed twice"),
    ({**CLASSIFIER, "embedding": {"dimensions": 8}}, "CG433 warning: `embedding` describes an embedding model's "
                                                     "vectors, but the card's snippet style is 'text-classification'"),
    ({**EMBEDDER, "embedding": {"pooling": "cls"}}, "CG434 warning: `embedding.pooling: cls`, but the "
                                                    "feature-extraction snippet averages the token states"),
    ({**EMBEDDER, "embedding": {"normalize": False}}, "CG434 warning: `embedding.normalize: false`, but the "
                                                      "feature-extraction snippet scales each vector to unit length"),
])
def test_facts_the_card_alone_shows_wrong(cli, tmp_path, fields, line):
    r = cli("validate", card(tmp_path, **fields))
    assert line in r.out, r.out


def test_a_pooling_the_schema_does_not_know_is_refused(cli, tmp_path):
    r = cli("validate", card(tmp_path, **EMBEDDER, embedding={"pooling": "average"}))
    assert r.code == 1 and "embedding.pooling" in r.out and "'mean'" in r.out, r.out
