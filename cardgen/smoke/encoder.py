"""The cards that do not generate: classifiers, taggers, fill-mask, question answering and embeddings.
Their tokenizer (a mask token) and configuration (an architecture with the task's head) must fit the
task; a classifier's labels are compared with `config.json`'s ``id2label`` (``labels``), and an
embedding card's `embedding` facts with the sentence-transformers folder and a real output
(``embedding``, in `cardgen.smoke.embedding`); the card's own snippet then runs on the model."""

from __future__ import annotations

import re
import time
from typing import Any

from cardgen.card import Card
from cardgen.smoke import codes
from cardgen.smoke.embedding import EMBEDDING_STYLES, check_embedding
from cardgen.smoke.models import weight_bytes
from cardgen.smoke.options import SmokeOptions
from cardgen.smoke.result import SmokeResult, first_line
from cardgen.smoke.tokens import check_tokenizer_kwargs

#: the architecture suffixes of the heads that a task's snippet loads
HEADS = {"text-classification": ("ForSequenceClassification",), "token-classification": ("ForTokenClassification",),
         "fill-mask": ("ForMaskedLM", "ForPreTraining"), "question-answering": ("ForQuestionAnswering",)}
#: the styles whose model answers with labels
CLASSIFIERS = ("text-classification", "token-classification")
#: transformers' names for labels nobody named (``PretrainedConfig``'s defaults)
DEFAULT_LABEL = re.compile(r"LABEL_\d+")


def run_encoder(card: Card, source: str, opts: SmokeOptions, r: SmokeResult) -> None:
    """A classifier, tagger, fill-mask, question-answering or embedding card: the tokenizer and the
    configuration must fit the task, a classifier's labels the card's, an embedding model's folder and
    output the card's `embedding` (the card's own snippet then runs on the model)."""
    from transformers import AutoConfig, AutoTokenizer

    trust = bool(card.model.trust_remote_code)
    t0 = time.perf_counter()
    try:
        tok = AutoTokenizer.from_pretrained(source, trust_remote_code=trust)
        cfg = AutoConfig.from_pretrained(source, trust_remote_code=trust)
    except Exception as e:  # noqa: BLE001
        r.fail(codes.ENCODER_LOADING, f"loading failed: {first_line(e)}", "loading")
        return
    r.load_s = round(time.perf_counter() - t0, 3)
    check_tokenizer_kwargs(card, tok, source, r)
    want = HEADS.get(r.style)
    if want is not None:  # the task head: compared where the style has one (embeddings have none)
        before = len(r.failures)
        if r.style == "fill-mask" and tok.mask_token is None:
            r.fail(codes.MASK_TOKEN, "a fill-mask card, but the tokenizer has no mask token")
        archs = list(getattr(cfg, "architectures", None) or [])
        if archs and not any(a.endswith(want) for a in archs):
            r.fail(codes.TASK_HEAD, f"the card documents {r.style}, but the model's architecture is {', '.join(archs)} "
                            f"(config.json): its snippet would load a head that was never trained")
        r.check("task head", before)
    if r.style in CLASSIFIERS:
        check_labels(card, cfg, r)
    if r.style in EMBEDDING_STYLES:
        check_embedding(card, source, cfg, tok, opts, r)
    r.weights_mb = round(weight_bytes(source) / 2**20, 1)


def model_labels(cfg: Any) -> list[str]:
    """The model's labels in id order (`config.json`'s ``id2label``)."""
    labels = dict(getattr(cfg, "id2label", None) or {})
    return [str(labels[k]) for k in sorted(labels, key=lambda k: int(k))]


def check_labels(card: Card, cfg: Any, r: SmokeResult) -> None:
    """The classifier's labels: not transformers' untrained defaults, and the card's `labels` (count, names,
    order) those of `config.json`."""
    before = len(r.failures)
    labels = model_labels(cfg)
    r.output = ", ".join(labels)[:200]
    shown = ", ".join(labels)
    if labels and all(DEFAULT_LABEL.fullmatch(x) for x in labels):
        r.fail(codes.DEFAULT_LABELS,
               f"the model's labels are transformers' untrained defaults {shown} (config.json id2label): its head "
               "was never trained or its labels never named, and the widget would show them", "labels")
    want = card.model.labels
    if want is not None:
        if len(want) != len(labels):
            r.fail(codes.LABEL_COUNT, f"the card lists {len(want)} labels ({', '.join(want)}), but config.json "
                                      f"id2label has {len(labels)}: {shown}", "labels")
        elif list(want) != labels:
            r.fail(codes.LABEL_NAMES, f"the card's labels {', '.join(want)} are not config.json id2label's {shown} "
                            "(in id order)", "labels")
    r.check("labels", before)
