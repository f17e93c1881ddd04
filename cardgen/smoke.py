"""Smoke-test each card's documentation with transformers (GPU when present, else CPU).

What runs follows the card's snippet style (``tasks.STYLES``):

* generating models (raw prompt, chat template, seq2seq): load tokenizer and model, check the card's
  stop ids, special markers and BOS handling against the tokenizer, build the documented prompt
  (the filled template, or the chat template applied to the conversation), generate greedily with
  the card's stop strings and ids, and judge the answer;
* classifiers, taggers, fill-mask, question answering, embeddings: check the tokenizer against what
  the style needs (a mask token), the model's configuration against the task;
* GGUF: every listed file is there and its header says the listed quantisation.

Then the card's own rendered usage snippet runs against the same local model, in a child process.
torch/transformers are an optional extra (`cardgen[smoke]`).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .card import Card
from .diagnostics import Report, plural
from .options import SmokeOptions
from .pipeline import render_all
from .prompt import PLACEHOLDER, fill_template, markers
from .schema import EXL2, GGUF, branches
from .scope import select
from .tasks import STYLES, style_of

TEST_MESSAGE = "Say hello."
EXTRA_HINT = ("the smoke test needs torch and transformers: `python -m pip install torch==2.13.0 'cardgen[smoke]'` "
              "(install torch first to pick the CPU build)")


@dataclass
class SmokeResult:
    repo_id: str
    branch: str | None
    device: str = "cpu"
    dtype: str = "float32"
    ok: bool = False
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    load_s: float | None = None
    first_token_s: float | None = None
    tokens_per_s: float | None = None
    new_tokens: int = 0
    stopped_by: str | None = None
    peak_gpu_mb: float | None = None
    peak_host_mb: float | None = None
    prompt: str = ""
    output: str = ""
    snippet: str | None = None  # ok | failed | skipped
    style: str = ""  # the card's snippet style: what was exercised
    skipped: str | None = None  # why nothing could be run here (not a failure)

    @property
    def name(self) -> str:
        return self.repo_id + (f"@{self.branch}" if self.branch else "")


def missing_extra() -> str | None:
    for mod in ("torch", "transformers"):
        try:
            importlib.import_module(mod)
        except ImportError:
            return mod
    return None


def shard(items: list, spec: str | None) -> list:
    if not spec:
        return items
    m = re.fullmatch(r"(\d+)/(\d+)", spec)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"--shard wants I/N with 1 <= I <= N, got {spec!r}")
    i, n = int(m.group(1)), int(m.group(2))
    return items[i - 1::n]


def targets(cards: dict[str, Card]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for repo in sorted(cards):
        q = cards[repo].model.quantization
        if q and not isinstance(q, GGUF):
            out += [(repo, b) for b in branches(q)]
        else:
            out.append((repo, None))
    return out


def fill_prompt(card: Card, message: str = TEST_MESSAGE) -> tuple[str, list[str]]:
    """The card's template filled with its system prompt and a test message; and what was left unfilled."""
    p = card.model.prompt
    assert p is not None and p.template is not None
    values = {"system_message": p.system_prompt or "", "prompt": message}
    prompt = fill_template(p.template, values)
    return prompt, PLACEHOLDER.findall(prompt)


class _FirstToken:
    """A logits processor that notes when the first new token is chosen."""

    def __init__(self) -> None:
        self.t: float | None = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.t is None:
            self.t = time.perf_counter()
        return scores


def run_one(card: Card, branch: str | None, source: str, local: bool, readme: str | None,
            args: SmokeOptions) -> SmokeResult:
    import torch

    r = SmokeResult(card.repo_id, branch)
    m = card.model
    r.style = style_of(m)
    cuda = torch.cuda.is_available() and args.device != "cpu"
    r.device = "cuda" if cuda else "cpu"
    if local and not Path(source).is_dir():
        r.failures.append(f"model folder {source} does not exist")
        return r
    if isinstance(m.quantization, GGUF):
        return run_gguf(card, source, local, readme, args, r)
    if isinstance(m.quantization, EXL2):
        r.skipped = "EXL2 variants load with exllamav2, which transformers does not drive: not smoke-tested here"
        r.ok = True
        return r
    spec = STYLES.get(r.style)
    if spec is not None and not spec.generates:
        return run_encoder(card, source, local, readme, args, r)
    return run_generate(card, branch, source, local, readme, args, r, cuda)


def run_generate(card: Card, branch: str | None, source: str, local: bool, readme: str | None, args: SmokeOptions,
                 r: SmokeResult, cuda: bool) -> SmokeResult:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    m = card.model
    seq2seq = r.style == "seq2seq"
    chat_style = r.style == "chat" or (m.prompt is not None and m.prompt.template is None)
    if m.prompt is None and not seq2seq:
        r.failures.append("the card documents no prompt format")
        return r
    if m.quantization:
        method = m.quantization.method.lower()
        backends = {"gptq": ("gptqmodel", "auto_gptq"), "awq": ("awq",)}.get(method, ())
        if backends and not any(importlib.util.find_spec(b) for b in backends):
            r.failures.append(f"{m.quantization.method} backend missing: install one of {', '.join(backends)}")
        if not cuda:
            r.failures.append(f"{m.quantization.method} variants need a CUDA GPU; none is present")
        if r.failures:
            return r
    trust = bool(m.trust_remote_code)
    if trust:
        r.warnings.append("the card asks for trust_remote_code=True: code from the repository runs")
    want = (m.usage.dtype if m.usage and m.usage.dtype else "float16") if cuda else "float32"
    r.dtype = want
    dtype_kw = "dtype" if tuple(int(x) for x in transformers.__version__.split(".")[:2]) >= (4, 56) else "torch_dtype"
    kw = {"trust_remote_code": trust, dtype_kw: getattr(torch, want)}
    if branch and not local:
        kw["revision"] = branch
    if cuda:
        kw["device_map"] = "auto"
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    try:
        tok = AutoTokenizer.from_pretrained(source, trust_remote_code=trust,
                                            **({"revision": branch} if branch and not local else {}))
        model = (AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM).from_pretrained(source, **kw)
    except Exception as e:  # noqa: BLE001 - reported, not raised
        r.failures.append(f"loading failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        return r
    if not cuda:
        model.to("cpu")
    model.eval()
    r.load_s = round(time.perf_counter() - t0, 3)
    if seq2seq:
        text = m.usage.message if m.usage else TEST_MESSAGE
        r.prompt = text
        ids = tok(text, return_tensors="pt").to(model.device)
        return _generate(card, tok, model, ids, [], [], readme, local, source, args, r, cuda)
    p = m.prompt
    assert p is not None
    vocab = len(tok)
    for sid in p.stop_token_ids:
        if sid >= vocab:
            r.failures.append(f"stop token id {sid} is outside the tokenizer's vocabulary (size {vocab})")
    for special in p.special_tokens:
        ids = tok.encode(special, add_special_tokens=False)
        if len(ids) != 1:
            r.failures.append(f"{special!r} should be one special token but tokenises into {len(ids)}: {ids}")
    if chat_style:
        return _chat(card, tok, model, readme, local, source, args, r, cuda)
    prompt, unfilled = fill_prompt(card)
    r.prompt = prompt
    if unfilled:
        r.failures.append(f"template placeholder(s) left unfilled: {', '.join('{' + u + '}' for u in unfilled)}")
        return r
    add_special = p.bos != "template"
    encoded = tok(prompt, add_special_tokens=add_special)["input_ids"]
    bos_id = tok.bos_token_id
    if bos_id is not None and encoded[:2] == [bos_id, bos_id]:
        r.failures.append(f"the model is fed two BOS tokens ({encoded[:3]}...): the template writes "
                          f"{tok.bos_token!r} and the tokenizer adds it too; remove it from the template, or set "
                          "`prompt.bos: template`")
    if getattr(tok, "chat_template", None):
        msgs = ([{"role": "system", "content": p.system_prompt}] if p.system_prompt is not None else []) + [
            {"role": "user", "content": TEST_MESSAGE}]
        try:
            chat = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        except Exception as e:  # noqa: BLE001
            r.warnings.append(f"the tokenizer's chat_template fails: {type(e).__name__}: {e}")
        else:
            if chat != prompt:
                pairs = enumerate(zip(chat, prompt, strict=False))
                at = next((i for i, (a, b) in pairs if a != b), min(len(chat), len(prompt)))
                r.warnings.append(f"the tokenizer's chat_template differs from the card's template at character {at}: "
                                  f"chat {chat[max(0, at - 15):at + 15]!r} vs card {prompt[max(0, at - 15):at + 15]!r}")
    if r.failures:
        return r
    inputs = tok(prompt, return_tensors="pt", add_special_tokens=add_special).to(model.device)
    return _generate(card, tok, model, inputs, [i for i in p.stop_token_ids if i < vocab], list(p.stop_strings),
                     readme, local, source, args, r, cuda, markers(p.template or ""))


def _chat(card: Card, tok: Any, model: Any, readme: str | None, local: bool, source: str, args: SmokeOptions,
          r: SmokeResult, cuda: bool) -> SmokeResult:
    """A chat card: the tokenizer's chat template applied to the snippet's conversation (and, when the
    card writes the template's text, the card's rendering of it must give the same token ids)."""
    from . import chat
    from .template_context import snippet_messages

    p = card.model.prompt
    assert p is not None
    if not getattr(tok, "chat_template", None):
        r.failures.append("the card documents a chat template but the tokenizer has none (tokenizer_config.json "
                          "`chat_template`)")
        return r
    msgs = snippet_messages(card)
    try:
        ids = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
        text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    except Exception as e:  # noqa: BLE001
        r.failures.append(f"the tokenizer's chat template fails: {type(e).__name__}: {e}")
        return r
    r.prompt = text
    if p.chat_template not in (None, chat.FROM_TOKENIZER):
        assert p.chat_template is not None
        try:
            mine = chat.render(p.chat_template, msgs, tok.bos_token, tok.eos_token)
        except chat.ChatTemplateError as e:
            r.failures.append(str(e))
            return r
        card_ids = tok(mine, add_special_tokens=False)["input_ids"]
        if card_ids != list(ids):
            at = next((i for i, (a, b) in enumerate(zip(card_ids, ids, strict=False)) if a != b),
                      min(len(card_ids), len(ids)))
            r.failures.append(f"the card's chat template gives other token ids than the tokenizer's, from position "
                              f"{at}: card {card_ids[at:at + 5]} vs tokenizer {list(ids[at:at + 5])}; copy "
                              "tokenizer_config.json's chat_template into `prompt.chat_template`")
    bos_id = tok.bos_token_id
    if bos_id is not None and list(ids[:2]) == [bos_id, bos_id]:
        r.failures.append(f"the chat template's output starts with two BOS tokens ({list(ids[:3])}...)")
    if r.failures:
        return r
    import torch

    inputs = {"input_ids": torch.tensor([list(ids)], device=model.device)}
    return _generate(card, tok, model, inputs, list(p.stop_token_ids), list(p.stop_strings), readme, local, source,
                     args, r, cuda)


def _generate(card: Card, tok: Any, model: Any, inputs: Any, stop_ids: list[int], stop_strings: list[str],
              readme: str | None, local: bool, source: str, args: SmokeOptions, r: SmokeResult, cuda: bool,
              template_markers: list[str] | None = None) -> SmokeResult:
    import torch
    from transformers import LogitsProcessorList

    eos = list(dict.fromkeys(stop_ids + ([tok.eos_token_id] if tok.eos_token_id is not None else [])))
    first = _FirstToken()
    gen_kw = dict(max_new_tokens=args.max_new_tokens, do_sample=False, eos_token_id=eos or None,
                  pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else (eos[0] if eos else 0),
                  logits_processor=LogitsProcessorList([first]))
    if stop_strings:
        gen_kw.update(stop_strings=stop_strings, tokenizer=tok)
    t1 = time.perf_counter()
    try:
        with torch.no_grad():
            out = model.generate(**inputs, **gen_kw)
    except Exception as e:  # noqa: BLE001
        r.failures.append(f"generation failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        return r
    t2 = time.perf_counter()
    decoder_only = not getattr(model.config, "is_encoder_decoder", False)
    new = out[0][inputs["input_ids"].shape[1]:].tolist() if decoder_only else out[0].tolist()
    if not decoder_only and new and new[0] == model.config.decoder_start_token_id:
        new = new[1:]
    r.new_tokens = len(new)
    if first.t is not None:
        r.first_token_s = round(first.t - t1, 4)
        r.tokens_per_s = round(len(new) / max(t2 - t1, 1e-9), 1)
    if cuda:
        r.peak_gpu_mb = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    import resource

    r.peak_host_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    answer_ids = new[:-1] if new and new[-1] in eos else new
    raw = tok.decode(answer_ids, skip_special_tokens=False)
    cut = min([raw.find(s) for s in stop_strings if s in raw] or [len(raw)])
    answer = raw[:cut]
    r.output = tok.decode(answer_ids, skip_special_tokens=True)[:cut] if cut < len(raw) else tok.decode(
        answer_ids, skip_special_tokens=True)
    if new and new[-1] in eos:
        r.stopped_by = f"stop token {new[-1]}"
    elif cut < len(raw):
        r.stopped_by = f"stop string {raw[cut:cut + 20]!r}"
    elif len(new) >= args.max_new_tokens:
        r.stopped_by = "token limit"
    else:
        r.failures.append(f"generation ended after {len(new)} tokens without a stop token, stop string or the limit")
    if not r.output.strip():
        r.failures.append("the model returned no text")
    for mk in template_markers or []:
        if mk and mk in answer:
            r.failures.append(f"template text {mk!r} leaked into the answer")
    if readme and not args.no_snippet and local:
        r.snippet = run_snippet(readme, card.repo_id, source, r.device, r)
    r.ok = not r.failures
    return r


#: what each non-generating style's model configuration must have
def run_encoder(card: Card, source: str, local: bool, readme: str | None, args: SmokeOptions,
                r: SmokeResult) -> SmokeResult:
    """A classifier, tagger, fill-mask, question-answering or embedding card: the tokenizer and the
    configuration must fit the task; then the card's own snippet runs on the model."""
    from transformers import AutoConfig, AutoTokenizer

    trust = bool(card.model.trust_remote_code)
    t0 = time.perf_counter()
    try:
        tok = AutoTokenizer.from_pretrained(source, trust_remote_code=trust)
        cfg = AutoConfig.from_pretrained(source, trust_remote_code=trust)
    except Exception as e:  # noqa: BLE001
        r.failures.append(f"loading failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        return r
    r.load_s = round(time.perf_counter() - t0, 3)
    if r.style == "fill-mask" and tok.mask_token is None:
        r.failures.append("a fill-mask card, but the tokenizer has no mask token")
    archs = list(getattr(cfg, "architectures", None) or [])
    heads = {"text-classification": "ForSequenceClassification", "token-classification": "ForTokenClassification",
             "fill-mask": ("ForMaskedLM", "ForPreTraining"), "question-answering": "ForQuestionAnswering"}
    want = heads.get(r.style)
    if want and archs and not any(a.endswith(want) for a in archs):
        r.failures.append(f"the card documents {r.style}, but the model's architecture is {', '.join(archs)} "
                          f"(config.json): its snippet would load a head that was never trained")
    if r.style in ("text-classification", "token-classification"):
        labels = getattr(cfg, "id2label", None) or {}
        r.output = ", ".join(str(v) for v in labels.values())[:200]
    if not r.failures and readme and not args.no_snippet and local:
        r.snippet = run_snippet(readme, card.repo_id, source, r.device, r)
    elif not local and not r.failures:
        r.snippet = "skipped"
    r.ok = not r.failures
    return r


def run_gguf(card: Card, source: str, local: bool, readme: str | None, args: SmokeOptions,
             r: SmokeResult) -> SmokeResult:
    """A GGUF card: every listed file is in the model folder, reads as GGUF, and is of the listed
    quantisation; the llama-cpp snippet runs where llama-cpp-python is installed."""
    q = card.model.quantization
    assert isinstance(q, GGUF)
    r.dtype = "gguf"
    if not local:
        r.skipped = "GGUF files are checked in a local folder: give --model-path (nothing is downloaded)"
        r.ok = True
        return r
    if importlib.util.find_spec("gguf") is None:
        r.failures.append("the gguf package is needed to read GGUF headers: `python -m pip install gguf`")
        return r
    import gguf

    t0 = time.perf_counter()
    for f in q.files:
        path = Path(source) / f.file
        if not path.is_file():
            r.failures.append(f"{f.file} is listed but not in {source}")
            continue
        try:
            reader = gguf.GGUFReader(str(path))
            field = reader.get_field("general.file_type")
            kind = gguf.LlamaFileType(int(field.parts[field.data[0]][0])).name if field else None
        except Exception as e:  # noqa: BLE001 - a file that does not parse, whatever the reader raises
            r.failures.append(f"{f.file} does not read as GGUF: {type(e).__name__}: {e}")
            continue
        if kind is None:
            r.warnings.append(f"{f.file} does not say its quantisation (no general.file_type)")
        elif kind.removeprefix("MOSTLY_").removeprefix("ALL_") != f.quant_method.upper():
            r.failures.append(f"{f.file} is listed as {f.quant_method} but its header says "
                              f"{kind.removeprefix('MOSTLY_').removeprefix('ALL_')}")
    r.load_s = round(time.perf_counter() - t0, 3)
    if not r.failures and readme and not args.no_snippet:
        if importlib.util.find_spec("llama_cpp") is None:
            r.snippet = "skipped"
            r.warnings.append("llama-cpp-python is not installed: the usage snippet was not run")
        else:
            r.snippet = run_snippet(readme, card.repo_id, source, r.device, r)
    r.output = f"{len(q.files)} file(s) checked"
    r.ok = not r.failures
    return r


def snippet_of(readme: str) -> str | None:
    m = re.search(r"^```python\n(.*?)^```", readme, re.S | re.M)
    return m.group(1) if m else None


def run_snippet(readme: str, repo_id: str, local_dir: str, device: str, r: SmokeResult) -> str:
    """Run the README's usage snippet with the repo id pointed at the local model."""
    code = snippet_of(readme)
    if code is None:
        r.warnings.append("the README has no python usage snippet")
        return "skipped"
    code = code.replace(json.dumps(repo_id), json.dumps(str(local_dir)))
    code = code.replace('"cuda"', json.dumps(device)).replace(".cuda()", f".to({json.dumps(device)})")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    except subprocess.TimeoutExpired:
        r.failures.append("usage snippet did not finish within 600 s")
        return "failed"
    if p.returncode != 0:
        lines = code.splitlines()
        where = re.findall(r'File "<string>", line (\d+)', p.stderr)
        last = [ln for ln in p.stderr.strip().splitlines() if ln.strip()][-1:] or ["(no message)"]
        at = ""
        if where:
            n = int(where[-1])
            at = f" at snippet line {n}: {lines[n - 1].strip() if 0 < n <= len(lines) else ''!r}"
        r.failures.append(f"usage snippet failed{at}: {last[0].strip()}")
        return "failed"
    if not p.stdout.strip():
        r.failures.append("usage snippet printed nothing")
        return "failed"
    return "ok"


def format_result(r: SmokeResult) -> str:
    verdict = f"skipped: {r.skipped}" if r.skipped else "ok" if r.ok else "FAILED"
    lines = [f"{r.name} ({r.device}, {r.dtype}, {r.style or 'no'} style): {verdict}"]
    if r.load_s is not None:
        fmt = lambda v, unit: "-" if v is None else f"{v} {unit}"  # noqa: E731
        lines.append(f"  load {fmt(r.load_s, 's')} · first token {fmt(r.first_token_s, 's')} · "
                     f"{fmt(r.tokens_per_s, 'tokens/s')} · peak host {fmt(r.peak_host_mb, 'MB')} · "
                     f"peak GPU {fmt(r.peak_gpu_mb, 'MB')}")
    if r.stopped_by:
        lines.append(f"  stopped by {r.stopped_by} after {r.new_tokens} new tokens; snippet: {r.snippet or '-'}")
    if r.output:
        lines.append(f"  output: {r.output[:200]!r}")
    lines += [f"  warning: {w}" for w in r.warnings]
    lines += [f"  FAIL: {f}" for f in r.failures]
    return "\n".join(lines)


def smoke(opts: SmokeOptions, progress: Callable[[str], None]) -> tuple[Report, int]:
    """Smoke-test every card in scope; the report (per-model results) and the exit code."""
    report = Report("smoke")
    missing = missing_extra()
    if missing:
        report.notes.append(f"cardgen: error: {missing} is not installed; {EXTRA_HINT}")
        return report, 2
    rendering = render_all(select(list(opts.paths)), policy=opts.policy)
    report.diagnostics = rendering.diagnostics
    try:
        todo = shard(targets(rendering.cards), opts.shard)
    except ValueError as e:
        report.notes.append(f"cardgen: error: {e}")
        return report, 2
    results: list[SmokeResult] = []
    for repo in rendering.failed:
        results.append(SmokeResult(repo, None, failures=["the card fails validation or rendering"]))
    import logging

    logging.getLogger("transformers").setLevel(logging.ERROR)
    for i, (repo, branch) in enumerate(todo, 1):
        card = rendering.cards[repo]
        local = opts.model_paths.get(repo)
        r = run_one(card, branch, str(local or repo), local is not None, rendering.texts.get(repo), opts)
        results.append(r)
        progress(f"[{i}/{len(todo)}] {r.name}: {'ok' if r.ok else 'FAILED'}")
    data = [asdict(r) | {"name": r.name} for r in results]
    if opts.json:
        opts.json.write_text(json.dumps(data, indent=2), "utf-8")
    failed = [r for r in results if not r.ok]
    report.results = data
    report.checked = plural(len(results), "model")
    skipped = [r for r in results if r.skipped]
    report.lines = [format_result(r) for r in results] + [
        f"{len(results) - len(failed) - len(skipped)} passed, {len(failed)} failed"
        + (f", {len(skipped)} skipped" if skipped else "")]
    return report, int(bool(failed))
