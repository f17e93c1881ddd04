"""An embedding card's facts against the artefacts that hold them: a sentence-transformers card needs a
sentence-transformers folder (`modules.json`: without one, sentence-transformers silently builds mean
pooling on whatever model it finds); the card's `embedding` (pooling, normalize, dimensions,
max_seq_length) against `1_Pooling/config.json`, the `Normalize` module, `sentence_bert_config.json`,
and (in the full tier) the shape and length of real embeddings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.card import Card
from cardgen.files import read_json
from cardgen.smoke import codes
from cardgen.smoke.options import SmokeOptions
from cardgen.smoke.result import SmokeResult, first_line

EMBEDDING_STYLES = ("feature-extraction", "sentence-transformers")
#: sentence-transformers' legacy pooling keys (before `pooling_mode`), as its Pooling module reads them
LEGACY_POOLING = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                  "pooling_mode_mean_tokens": "mean", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                  "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}


@dataclass
class Fact:
    value: Any
    where: str  # the file (or output) that says it


@dataclass
class Facts:
    """What a model folder (and its output) says of each `embedding` field."""

    found: dict[str, Fact] = field(default_factory=dict)

    def set(self, name: str, value: Any, where: str) -> None:
        if value is not None:
            self.found[name] = Fact(value, where)


def folder_facts(folder: Path) -> Facts | None:
    """What a sentence-transformers folder says of pooling, normalisation, dimensions and input length;
    None when it is none (no readable `modules.json`)."""
    modules = read_json(folder / "modules.json")
    if not isinstance(modules, list):
        return None
    facts = Facts()
    types = [(str(m.get("type", "")), str(m.get("path", ""))) for m in modules if isinstance(m, dict)]
    facts.set("normalize", any(t.endswith(".Normalize") for t, _ in types), "modules.json")
    for t, path in types:
        cfg = read_json(folder / path / "config.json") if path else None
        if not isinstance(cfg, dict):
            continue
        where = f"{path}/config.json"
        if t.endswith(".Pooling"):
            mode = cfg.get("pooling_mode") or next((v for k, v in LEGACY_POOLING.items() if cfg.get(k)), None)
            facts.set("pooling", "+".join(mode) if isinstance(mode, list) else mode, where)
            facts.set("dimensions", cfg.get("embedding_dimension") or cfg.get("word_embedding_dimension"), where)
        elif t.endswith(".Dense"):
            facts.set("dimensions", cfg.get("out_features"), where)
    st = read_json(folder / "sentence_bert_config.json")
    if isinstance(st, dict):
        facts.set("max_seq_length", st.get("max_seq_length"), "sentence_bert_config.json")
    return facts


def check_embedding(card: Card, source: str, cfg: Any, tok: Any, opts: SmokeOptions, r: SmokeResult) -> None:
    """The `embedding` check: the folder is what the card's style loads, and each fact the card states is the
    folder's (and, in the full tier, a real output's). Recorded only when something was compared."""
    before = len(r.failures)
    folder = Path(source)
    facts = folder_facts(folder)
    if facts is None:
        if r.style == "sentence-transformers":
            archs = ", ".join(getattr(cfg, "architectures", None) or [str(getattr(cfg, "model_type", "?"))])
            r.fail(codes.NOT_SENTENCE_TRANSFORMERS,
                   f"a sentence-transformers card, but {source} has no modules.json: it is a plain {archs} folder, "
                   "on which sentence-transformers silently builds mean pooling", "embedding")
            r.check("embedding", before)
            return
        facts = Facts()  # the feature-extraction snippet pools by itself: what the configuration says
        facts.set("dimensions", getattr(cfg, "hidden_size", None), "config.json hidden_size")
    e = card.model.embedding
    wrong: set[str] = set()
    compared = _compare(e, facts, r, wrong) + (r.style == "sentence-transformers")  # modules.json is there
    pooled = facts.found.get("pooling")
    if r.style == "feature-extraction" and pooled is not None and "pooling" not in wrong:
        compared += 1  # the snippet pools by itself: by mean, which must be how the model was trained to pool
        if pooled.value != "mean":
            wrong.add("pooling")
            r.fail(codes.POOLING, f"the feature-extraction snippet averages the token states (mean pooling), but "
                            f"{pooled.where} says {pooled.value}: use the sentence-transformers style", "embedding")
    if not opts.tokenizer_only and len(r.failures) == len(wrong) + before:
        out = _real_output(card, source, r)
        if out is not None:
            compared += _compare(e, out, r, wrong)
    if compared or len(r.failures) > before:
        r.check("embedding", before)


CODES = {"pooling": codes.POOLING, "normalize": codes.NORMALIZE, "dimensions": codes.DIMENSIONS,
         "max_seq_length": codes.MAX_SEQ_LENGTH}


def _compare(e: Any, facts: Facts, r: SmokeResult, wrong: set[str]) -> int:
    """Each fact the card states against ``facts``: a failure naming both where they differ (once a fact: those
    already ``wrong`` are not compared again); how many compared."""
    if e is None:
        return 0
    n = 0
    for name, code in CODES.items():
        said, fact = getattr(e, name), facts.found.get(name)
        if said is None or fact is None or name in wrong:
            continue
        n += 1
        if said != fact.value:
            wrong.add(name)
            r.fail(code, f"the card says embedding {name}: {_show(said)}, but {fact.where} says "
                         f"{_show(fact.value)}", "embedding")
    return n


def _show(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _real_output(card: Card, source: str, r: SmokeResult) -> Facts | None:
    """Two sentences embedded as the card's style does: the dimensions and whether the vectors are unit length."""
    u = card.model.usage
    sentences = list(u.sentences) if u and u.sentences else [u.message if u else "hello", "a second sentence"]
    sentences = (sentences + ["a second sentence"])[:2]
    try:
        if r.style == "sentence-transformers":
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(source, device="cpu", trust_remote_code=bool(card.model.trust_remote_code))
            vectors = model.encode(sentences, convert_to_tensor=True)
            length = getattr(model, "max_seq_length", None)
        else:
            return _hidden_size(card, source, sentences)
    except Exception as e:  # noqa: BLE001 - reported, not raised
        r.fail(codes.EMBEDDING_RUN, f"embedding two sentences failed: {first_line(e)}", "embedding")
        return None
    facts = Facts()
    facts.set("dimensions", int(vectors.shape[-1]), "a real embedding")
    norms = vectors.float().norm(dim=-1)
    facts.set("normalize", bool(((norms - 1).abs() < 1e-3).all()),
              f"a real embedding (lengths {', '.join(f'{float(n):.3g}' for n in norms)})")
    facts.set("max_seq_length", length, "the loaded model's max_seq_length")
    r.output = f"{tuple(vectors.shape)} embeddings"
    return facts


def _hidden_size(card: Card, source: str, sentences: list[str]) -> Facts:
    """A plain transformers encoder (the feature-extraction snippet): the size of its token states."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    trust = bool(card.model.trust_remote_code)
    tok = AutoTokenizer.from_pretrained(source, trust_remote_code=trust)
    model = AutoModel.from_pretrained(source, trust_remote_code=trust)
    with torch.no_grad():
        hidden = model(**tok(sentences, padding=True, truncation=True, return_tensors="pt")).last_hidden_state
    facts = Facts()
    facts.set("dimensions", int(hidden.shape[-1]), "a real output's token states")
    return facts
