"""The generating tier: after the tokenizer tier (``tokens``), the model is loaded in the card's dtype
when its weights fit, generates greedily with the card's stop criteria, and the stop path is forced
(the documented stop token is forced as the first new tokens: generation must end there, so random
weights exercise it too)."""

from __future__ import annotations

import time
from typing import Any

from cardgen.card import Card
from cardgen.smoke import codes
from cardgen.smoke.models import cannot_fit, weight_bytes
from cardgen.smoke.options import SmokeOptions
from cardgen.smoke.result import SmokeResult, first_line, time_limit
from cardgen.smoke.tokens import Tokenized, tokenizer_tier


class _FirstToken:
    """A logits processor that notes when the first new token is chosen."""

    def __init__(self) -> None:
        self.t: float | None = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.t is None:
            self.t = time.perf_counter()
        return scores


class _Force:
    """A logits processor that makes the new tokens at ``start``, ``start + 1``... the ``forced`` ones."""

    def __init__(self, prompt_len: int, start: int, forced: list[int]) -> None:
        self.prompt_len, self.start, self.forced = prompt_len, start, forced

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        k = input_ids.shape[-1] - self.prompt_len - self.start
        if 0 <= k < len(self.forced):
            scores[:] = float("-inf")
            scores[:, self.forced[k]] = 0.0
        return scores


def run_generate(card: Card, source: str, opts: SmokeOptions, r: SmokeResult, cuda: bool) -> None:
    """A generating card: the tokenizer tier, then (unless ``--tokenizer-only`` or a failure) the model,
    when its weights fit, generating from the card's prompt."""
    t = tokenizer_tier(card, source, opts, r)
    if t is None or r.failures or opts.tokenizer_only:
        return
    u = card.model.usage
    r.dtype = (u.dtype if u and u.dtype not in (None, "auto") else "float16") if cuda else "float32"
    size = weight_bytes(source)
    r.weights_mb = round(size / 2**20, 1)
    why = cannot_fit(size, source, r.dtype, cuda)
    if why is not None:
        r.skipped = why
        return
    model = _load(card, source, size, opts, r, cuda)
    if model is None:
        return
    try:
        _generate(model, t, opts, r, cuda)
    finally:
        del model


def _load(card: Card, source: str, size: int, opts: SmokeOptions, r: SmokeResult, cuda: bool) -> Any:
    """The model in ``r.dtype``, on the GPU or the CPU, timed; None, with the failure, when it does not load."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    dtype_kw = "dtype" if tuple(int(x) for x in transformers.__version__.split(".")[:2]) >= (4, 56) else "torch_dtype"
    kw: dict[str, Any] = {"trust_remote_code": bool(card.model.trust_remote_code), dtype_kw: getattr(torch, r.dtype)}
    if cuda:
        kw["device_map"] = "auto"
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    try:
        with time_limit(opts.timeout, f"loading {r.name}"):
            auto = AutoModelForSeq2SeqLM if r.style == "seq2seq" else AutoModelForCausalLM
            model = auto.from_pretrained(source, **kw)
    except Exception as e:  # noqa: BLE001 - reported, not raised
        r.fail(codes.NOT_LOADING, f"loading failed: {first_line(e)}")
        return None
    if not cuda:
        model.to("cpu")
    model.eval()
    r.load_s = load_s = round(time.perf_counter() - t0, 3)
    # the rate from the rounded MB figure the report shows, as it always was
    r.load_mb_per_s = round((r.weights_mb or 0.0) / max(load_s, 1e-9), 1) if size else None
    return model


def _generate(model: Any, t: Tokenized, opts: SmokeOptions, r: SmokeResult, cuda: bool) -> None:
    """Greedy generation from the prompt with the card's stop criteria, timed; then how it stopped and what
    it answered are judged, and the stop path is forced."""
    import torch
    from transformers import LogitsProcessorList

    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    inputs = torch.tensor([t.ids], device=model.device)
    first = _FirstToken()
    pad = t.tok.pad_token_id if t.tok.pad_token_id is not None else (t.stop_at[0] if t.stop_at else 0)
    gen_kw: dict[str, Any] = dict(max_new_tokens=opts.max_new_tokens, do_sample=False, eos_token_id=t.stop_at or None,
                                  pad_token_id=pad, max_time=opts.timeout)
    if t.stop_strings:
        gen_kw.update(stop_strings=t.stop_strings, tokenizer=t.tok)
    t1 = time.perf_counter()
    try:
        with torch.no_grad():
            out = model.generate(inputs, attention_mask=torch.ones_like(inputs),
                                 logits_processor=LogitsProcessorList([first]), **gen_kw)
    except Exception as e:  # noqa: BLE001
        r.fail(codes.GENERATION, f"generation failed: {first_line(e)}")
        return
    t2 = time.perf_counter()
    new = out[0].tolist()[1:] if encoder_decoder else out[0][len(t.ids):].tolist()
    _measure(new, first.t, t1, t2, r, cuda)
    _judge(new, t2 - t1, t, opts, r)
    if not encoder_decoder:
        _force_stop(model, t, inputs, gen_kw, r)


def _measure(new: list[int], first_t: float | None, t1: float, t2: float, r: SmokeResult, cuda: bool) -> None:
    """The figures of a generation from ``t1`` to ``t2``: tokens, time to the first, speed, peak memory."""
    import resource

    import torch

    r.new_tokens = len(new)
    if first_t is not None:
        r.first_token_s = round(first_t - t1, 4)
        r.tokens_per_s = round(len(new) / max(t2 - t1, 1e-9), 1)
    if cuda:
        r.peak_gpu_mb = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    r.peak_host_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _judge(new: list[int], seconds: float, t: Tokenized, opts: SmokeOptions, r: SmokeResult) -> None:
    """The answer, up to the stop token or the first stop string: generation must have stopped by one of
    the card's criteria (or the token limit) in time, said something, and leaked no template text."""
    answer_ids = new[:-1] if new and new[-1] in t.stop_at else new
    raw = t.tok.decode(answer_ids, skip_special_tokens=False)
    cut = min([raw.find(s) for s in t.stop_strings if s in raw] or [len(raw)])
    answer = raw[:cut]
    clean = t.tok.decode(answer_ids, skip_special_tokens=True)
    r.output = clean[:cut] if cut < len(raw) else clean
    _stopped_by(new, raw, cut, seconds, t, opts, r)
    if not r.output.strip():
        r.fail(codes.ANSWER, "the model returned no text")
    for mk in t.markers:
        if mk and mk in answer:
            r.fail(codes.ANSWER, f"template text {mk!r} leaked into the answer")


def _stopped_by(new: list[int], raw: str, cut: int, seconds: float, t: Tokenized, opts: SmokeOptions,
                r: SmokeResult) -> None:
    """What ended generation (a stop token, the stop string at ``raw[cut:]``, the token limit); a failure
    when it ran past ``--timeout`` or ended otherwise."""
    if opts.timeout and seconds >= opts.timeout:
        r.fail(codes.GENERATION, f"generation of {r.name} took longer than {opts.timeout:g} s (--timeout)")
    elif new and new[-1] in t.stop_at:
        r.stopped_by = f"stop token {new[-1]}"
    elif cut < len(raw):
        r.stopped_by = f"stop string {raw[cut:cut + 20]!r}"
    elif len(new) >= opts.max_new_tokens:
        r.stopped_by = "token limit"
    else:
        r.fail(codes.GENERATION,
               f"generation ended after {len(new)} tokens without a stop token, stop string or the limit")


def _force_stop(model: Any, t: Tokenized, inputs: Any, gen_kw: dict[str, Any], r: SmokeResult) -> None:
    """Make the documented stop token (or the first stop string's tokens) the first new ones: the
    documented stop criteria must end generation right there."""
    import torch
    from transformers import LogitsProcessorList

    before = len(r.failures)
    cases: list[tuple[str, list[int]]] = []
    if t.stop_at:
        cases.append((f"stop token {t.stop_at[0]}", [t.stop_at[0]]))
    if t.stop_strings:
        cases.append((f"stop string {t.stop_strings[0]!r}", t.tok.encode(t.stop_strings[0], add_special_tokens=False)))
    n = inputs.shape[-1]
    for what, forced in cases:
        if not forced:
            continue
        kw = {**gen_kw, "max_new_tokens": len(forced) + 8}
        with torch.no_grad():
            out = model.generate(inputs, attention_mask=torch.ones_like(inputs),
                                 logits_processor=LogitsProcessorList([_Force(n, 0, forced)]), **kw)
        new = out[0][n:].tolist()
        if new != forced:
            r.fail(codes.FORCED_STOP, f"the documented stop criteria did not end generation at the {what}: "
                                      f"{len(new)} new tokens {new[:12]}")
    r.check("forced stop", before)
