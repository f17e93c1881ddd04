"""Rules on the typed facts a kind documents: a classifier's `labels` and an embedding model's `embedding`,
as far as the card alone can tell (the smoke test compares them with the model's files)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from cardgen.diagnostics import Where
from cardgen.kinds import tasks
from cardgen.rules.registry import card_rule

if TYPE_CHECKING:
    from cardgen.card import Card

Found = Iterator[tuple[Where, str]]

CLASSIFIER_STYLES = ("text-classification", "token-classification")
EMBEDDING_STYLES = ("feature-extraction", "sentence-transformers")


@card_rule("CG430", "labels are transformers' untrained defaults", "warning")
def default_labels(card: Card) -> Found:
    labels = card.model.labels
    if labels and all(re.fullmatch(r"LABEL_\d+", x) for x in labels):
        yield card.loc("labels"), (f"the labels {', '.join(labels)} are the names transformers gives labels nobody "
                                   "named: the widget shows them as they are; name them in the model's config.json "
                                   "id2label and here")


@card_rule("CG431", "labels on a card that does not classify", "warning")
def labels_without_classifier(card: Card) -> Found:
    if card.model.labels is not None and tasks.style_of(card.model) not in CLASSIFIER_STYLES:
        yield card.loc("labels"), (f"`labels` describe a classifier's answers, but the card's snippet style is "
                                   f"{tasks.style_of(card.model) or 'none'!r}: nothing answers with them")


@card_rule("CG432", "a label listed twice", "warning")
def duplicate_labels(card: Card) -> Found:
    labels = card.model.labels or []
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        yield card.loc("labels"), (f"label(s) {', '.join(twice)} listed twice: config.json's label2id maps each "
                                   "name to one id")


@card_rule("CG433", "embedding facts on a card that does not embed", "warning")
def embedding_without_embedder(card: Card) -> Found:
    if card.model.embedding is not None and tasks.style_of(card.model) not in EMBEDDING_STYLES:
        yield card.loc("embedding"), (f"`embedding` describes an embedding model's vectors, but the card's snippet "
                                      f"style is {tasks.style_of(card.model) or 'none'!r}")


@card_rule("CG434", "the feature-extraction snippet pools otherwise than the card says", "warning")
def snippet_pooling(card: Card) -> Found:
    e = card.model.embedding
    if e is None or tasks.style_of(card.model) != "feature-extraction":
        return
    if e.pooling not in (None, "mean"):
        yield card.loc("embedding", "pooling"), (
            f"`embedding.pooling: {e.pooling}`, but the feature-extraction snippet averages the token states (mean "
            "pooling): use the sentence-transformers style (`library_name: sentence-transformers`) for a model that "
            "pools otherwise")
    if e.normalize is False:
        yield card.loc("embedding", "normalize"), (
            "`embedding.normalize: false`, but the feature-extraction snippet scales each vector to unit length")
