"""The cards that do not generate: classifiers, taggers, fill-mask, question answering and embeddings.
Their tokenizer (a mask token) and configuration (an architecture with the task's head) must fit the
task; the card's own snippet then runs on the model."""

from __future__ import annotations

import time

from cardgen.card import Card
from cardgen.smoke.models import weight_bytes
from cardgen.smoke.result import SmokeResult, first_line
from cardgen.smoke.tokens import check_tokenizer_kwargs

#: the architecture suffixes of the heads that a task's snippet loads
HEADS = {"text-classification": ("ForSequenceClassification",), "token-classification": ("ForTokenClassification",),
         "fill-mask": ("ForMaskedLM", "ForPreTraining"), "question-answering": ("ForQuestionAnswering",)}


def run_encoder(card: Card, source: str, r: SmokeResult) -> None:
    """A classifier, tagger, fill-mask, question-answering or embedding card: the tokenizer and the
    configuration must fit the task (the card's own snippet then runs on the model)."""
    from transformers import AutoConfig, AutoTokenizer

    trust = bool(card.model.trust_remote_code)
    t0 = time.perf_counter()
    try:
        tok = AutoTokenizer.from_pretrained(source, trust_remote_code=trust)
        cfg = AutoConfig.from_pretrained(source, trust_remote_code=trust)
    except Exception as e:  # noqa: BLE001
        r.failures.append(f"loading failed: {first_line(e)}")
        return
    r.load_s = round(time.perf_counter() - t0, 3)
    before = len(r.failures)
    check_tokenizer_kwargs(card, tok, source, r)
    if r.style == "fill-mask" and tok.mask_token is None:
        r.failures.append("a fill-mask card, but the tokenizer has no mask token")
    archs = list(getattr(cfg, "architectures", None) or [])
    want = HEADS.get(r.style)
    if want and archs and not any(a.endswith(want) for a in archs):
        r.failures.append(f"the card documents {r.style}, but the model's architecture is {', '.join(archs)} "
                          f"(config.json): its snippet would load a head that was never trained")
    if r.style in ("text-classification", "token-classification"):
        labels = getattr(cfg, "id2label", None) or {}
        r.output = ", ".join(str(v) for v in labels.values())[:200]
    r.check("task head", before)
    r.weights_mb = round(weight_bytes(source) / 2**20, 1)
