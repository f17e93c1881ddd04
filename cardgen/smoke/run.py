"""Smoke-test each card's documentation with transformers (GPU when present, else CPU).

What runs follows the card's snippet style (``tasks.STYLES``), in two tiers:

* the tokenizer tier (``--tokenizer-only``, no weights read): the documented prompt against the
  tokenizer, judged on token ids (the filled template against the tokenizer's chat template, BOS
  counted once, special markers one token each), the stop ids and strings against the
  end-of-sequence ids of the tokenizer and of `generation_config.json`, the tokenizer keywords of
  the snippet; for classifiers, taggers, fill-mask, question answering and embeddings the tokenizer
  (a mask token) and the configuration (an architecture with the task's head); for GGUF cards, each
  listed file's header;
* the full tier: the memory the weights need is estimated before loading (a model that cannot fit is
  a skip, with the figures); generating models are loaded once per weight folder and generate
  greedily with the card's stop criteria, and the stop path is forced (the documented stop token is
  forced as the first new tokens: generation must end there, so random weights exercise it too); the
  model is freed, then the card's own rendered usage snippet runs in a fresh process forked from a
  server that has already imported torch and transformers.

Nothing is downloaded unless ``--allow-download``: a repository that is neither given with
``--model-path`` nor in the local Hugging Face cache is skipped as not available locally. One model's
crash is that model's failure; the JSON report is written whatever happens. torch/transformers are an
optional extra (`cardgen[smoke]`).
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from cardgen.card import Card
from cardgen.diagnostics import plural
from cardgen.kinds.prompt import PLACEHOLDER, fill_template, markers
from cardgen.kinds.tasks import STYLES, style_of
from cardgen.loading.scope import select
from cardgen.pipeline.run import render_all
from cardgen.report import Report
from cardgen.schema import AWQ, EXL2, GGUF, GPTQ, branches
from cardgen.smoke.options import SmokeOptions

TEST_MESSAGE = "Say hello."
EXTRA_HINT = ("the smoke test needs torch and transformers: `python -m pip install torch==2.13.0 'cardgen[smoke]'` "
              "(install torch first to pick the CPU build)")
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


class Timeout(Exception):
    pass


@dataclass
class SmokeResult:
    repo_id: str
    branch: str | None
    device: str = "cpu"
    dtype: str = "float32"
    ok: bool = False
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)  # check -> "ok" | "failed" | "skipped"
    load_s: float | None = None
    first_token_s: float | None = None
    tokens_per_s: float | None = None
    weights_mb: float | None = None  # what the weight files hold (the memory estimate's basis)
    load_mb_per_s: float | None = None
    new_tokens: int = 0
    stopped_by: str | None = None
    peak_gpu_mb: float | None = None
    peak_host_mb: float | None = None
    prompt: str = ""
    output: str = ""
    snippet: str | None = None  # ok | failed | skipped
    snippet_s: float | None = None
    style: str = ""  # the card's snippet style: what was exercised
    skipped: str | None = None  # why nothing could be run here (not a failure)
    source: str = ""  # the folder the model was read from

    @property
    def name(self) -> str:
        return self.repo_id + (f"@{self.branch}" if self.branch else "")

    def check(self, name: str, failures_before: int) -> None:
        self.checks[name] = "ok" if len(self.failures) == failures_before else "failed"


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


def _first_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def time_limit(seconds: float | None, what: str) -> contextlib.AbstractContextManager[None]:
    """Raise ``Timeout`` when the block runs longer than ``seconds``, naming ``what``."""
    from cardgen.limits import time_limit as limit

    return limit(seconds, lambda: Timeout(f"{what} took longer than {seconds:g} s (--timeout)"))


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


# -- where the model comes from -----------------------------------------------------------------
def locate(repo: str, branch: str | None, opts: SmokeOptions, r: SmokeResult) -> str | None:
    """The local folder of a repository: given, in the cache, or downloaded when allowed; None (with
    the reason in ``r``) when there is none."""
    given = opts.model_paths.get(repo)
    if given is not None:
        if not Path(given).is_dir():
            r.failures.append(f"model folder {given} does not exist")
            return None
        return str(given)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        return str(snapshot_download(repo, revision=branch, local_files_only=not opts.allow_download,
                                     endpoint=os.environ.get("HF_ENDPOINT") or None))
    except RepositoryNotFoundError:
        r.failures.append(f"repository {repo} does not exist on the Hub (or is private and no token was given)")
    except RevisionNotFoundError:
        r.failures.append(f"branch {branch!r} does not exist in {repo}")
    except LocalEntryNotFoundError:
        r.skipped = (f"not available locally: give --model-path {repo}=DIR, or --allow-download to fetch it"
                     if not opts.allow_download else f"could not download {repo}: the Hub could not be reached")
    except Exception as e:  # noqa: BLE001 - a network fault, a full disk...: this model's problem
        r.failures.append(f"could not get {repo}: {_first_line(e)}")
    return None


def weight_bytes(folder: str) -> int:
    """What the weight files of a model folder hold (safetensors, else PyTorch bins)."""
    files = list(Path(folder).glob("*.safetensors")) or list(Path(folder).glob("*.bin"))
    return sum(f.stat().st_size for f in files if f.is_file())


def free_bytes(cuda: bool) -> int | None:
    if cuda:
        import torch

        return int(torch.cuda.mem_get_info()[0])
    try:  # what the kernel could hand out without swapping (page cache included), else the free pages
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def stored_dtype_bytes(folder: str) -> int:
    try:
        cfg = json.loads((Path(folder) / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return 2
    name = str(cfg.get("torch_dtype") or cfg.get("dtype") or "float16")
    return 4 if "32" in name else 1 if "8" in name else 2


# -- the checks --------------------------------------------------------------------------------
def run_one(card: Card, branch: str | None, readme: str | None, opts: SmokeOptions,
            folder_done: dict[tuple[str, str], SmokeResult], server: SnippetServer | None) -> SmokeResult:
    import torch

    r = SmokeResult(card.repo_id, branch)
    m = card.model
    r.style = style_of(m)
    cuda = torch.cuda.is_available() and opts.device != "cpu"
    r.device = "cuda" if cuda else "cpu"
    q = m.quantization
    if isinstance(q, EXL2):
        r.skipped = "EXL2 variants load with exllamav2, which transformers does not drive: not smoke-tested here"
        return r
    if isinstance(q, (GPTQ, AWQ)) and not opts.tokenizer_only:
        backends = {"GPTQ": ("gptqmodel", "auto_gptq"), "AWQ": ("awq",)}[q.method]
        if not cuda:
            r.skipped = f"{q.method} variants need a CUDA GPU; none is present"
            return r
        if not any(importlib.util.find_spec(b) for b in backends):
            r.skipped = f"{q.method} kernels are not installed: install one of {', '.join(backends)}"
            return r
    source = locate(card.repo_id, branch, opts, r)
    if source is None:
        return r
    r.source = source
    earlier = folder_done.get((card.repo_id, source))
    if earlier is not None:  # nine GPTQ branches given one folder: it is loaded and judged once
        return replace(earlier, branch=branch, warnings=[*earlier.warnings,
                                                         f"same folder as {earlier.name}: its result, not run again"])
    if isinstance(q, GGUF):
        run_gguf(card, source, r)
    else:
        spec = STYLES.get(r.style)
        if spec is not None and not spec.generates:
            run_encoder(card, source, r)
        else:
            run_generate(card, source, opts, r, cuda)
    gc.collect()  # the model is freed before the snippet loads its own copy
    if cuda:
        torch.cuda.empty_cache()
    if not r.failures and not r.skipped and not opts.tokenizer_only and not opts.no_snippet:
        if readme is None:
            r.snippet = "skipped"
        elif isinstance(q, GGUF) and importlib.util.find_spec("llama_cpp") is None:
            r.snippet = "skipped"
            r.warnings.append("llama-cpp-python is not installed: the usage snippet was not run")
        else:
            r.snippet = run_snippet(readme, card.repo_id, source, r.device, r, opts.timeout, server)
    r.ok = not r.failures
    folder_done[(card.repo_id, source)] = r
    return r


def _tokenizer_kwargs(card: Card, tok: Any, source: str, r: SmokeResult) -> None:
    """The snippet's tokenizer keywords must be ones transformers reads: an unknown one is ignored silently."""
    import inspect

    from transformers import PreTrainedTokenizerBase

    u = card.model.usage
    if u is None or not u.tokenizer_kwargs:
        return
    known = set(inspect.signature(PreTrainedTokenizerBase.__init__).parameters)
    known |= set(inspect.signature(type(tok).__init__).parameters)
    # what this tokenizer is configured with (not init_kwargs: unknown keywords land there too)
    with contextlib.suppress(OSError, ValueError, TypeError):
        known |= set(json.loads((Path(source) / "tokenizer_config.json").read_text("utf-8")))
    known |= {"use_fast", "trust_remote_code", "revision", "cache_dir", "token", "local_files_only", "subfolder",
              "force_download", "proxies", "legacy", "add_bos_token", "add_eos_token", "from_slow",
              "tokenizer_type", "use_default_system_prompt", "add_prefix_space"}
    for k in u.tokenizer_kwargs:
        if k not in known:
            close = difflib.get_close_matches(k, sorted(known), n=1, cutoff=0.75)
            r.failures.append(f"the snippet passes tokenizer keyword {k!r}, which transformers ignores"
                              + (f"; did you mean {close[0]!r}?" if close else ""))


def _config(source: str, trust: bool, r: SmokeResult) -> Any:
    """The model's configuration (config.json, no weights); None, with the failure, when it does not load."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=trust)
    except Exception as e:  # noqa: BLE001
        r.failures.append(f"config.json does not load: {_first_line(e)}")
        return None


def _architecture(cfg: Any, seq2seq: bool, r: SmokeResult) -> None:
    """config.json's architecture must have the head the card's snippet loads."""
    archs = list(getattr(cfg, "architectures", None) or [])
    want = ("ForConditionalGeneration", "Seq2SeqLM") if seq2seq else ("ForCausalLM", "LMHeadModel")
    if archs and not any(a.endswith(want) for a in archs):
        cls = "AutoModelForSeq2SeqLM" if seq2seq else "AutoModelForCausalLM"
        r.failures.append(f"the card's {r.style} snippet loads {cls}, "
                          f"but the model's architecture is {', '.join(archs)} (config.json): set the pipeline_tag "
                          "that this model serves")


def eos_ids(source: str, tok: Any, cfg: Any) -> tuple[set[int], str]:
    """The end-of-sequence ids of the tokenizer and of generation_config.json (else of ``cfg``, config.json)."""
    ids = {tok.eos_token_id} if tok.eos_token_id is not None else set()
    where = "tokenizer"
    try:
        from transformers import GenerationConfig

        gen = GenerationConfig.from_pretrained(source)
        where += " and generation_config.json"
        found = gen.eos_token_id
    except Exception:  # noqa: BLE001 - no generation_config.json: the model's config says it
        found = getattr(cfg, "eos_token_id", None)
        if cfg is not None:
            where += " and config.json"
    ids |= set(found if isinstance(found, list) else [found] if isinstance(found, int) else [])
    return ids, where


def check_stops(card: Card, tok: Any, eos: set[int], where: str, r: SmokeResult) -> list[int]:
    """The documented stop ids against the model's end-of-sequence ids; the ids generation stops at
    (the documented ones, which the snippet passes as `eos_token_id`, else the model's own)."""
    p = card.model.prompt
    before = len(r.failures)
    documented = list(p.stop_token_ids) if p else []
    vocab = len(tok)
    for sid in documented:
        if sid >= vocab:
            r.failures.append(f"stop token id {sid} is outside the tokenizer's vocabulary (size {vocab})")
    if documented:
        missing = sorted(eos - set(documented))
        if missing:
            names = ", ".join(f"{i} {tok.convert_ids_to_tokens(i)!r}" for i in missing)
            r.failures.append(f"the snippet passes eos_token_id={documented}, which replaces the model's end-of-"
                              f"sequence id(s) {names} ({where}): add them to prompt.stop_token_ids")
        special = set(getattr(tok, "all_special_ids", [])) | {
            i for i, t in getattr(tok, "added_tokens_decoder", {}).items() if getattr(t, "special", False)}
        for sid in documented:
            if sid < vocab and sid not in eos and sid not in special:
                r.failures.append(f"stop token id {sid} is the ordinary token {tok.convert_ids_to_tokens(sid)!r}, "
                                  "neither end-of-sequence nor a special token: generation would stop inside text")
    r.check("stops", before)
    return [i for i in documented if i < vocab] or sorted(eos)


def run_generate(card: Card, source: str, opts: SmokeOptions, r: SmokeResult, cuda: bool) -> None:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    m = card.model
    p = m.prompt
    seq2seq = r.style == "seq2seq"
    chat_style = r.style == "chat" or (p is not None and p.template is None)
    if p is None and not seq2seq:
        r.failures.append("the card documents no prompt format")
        return
    trust = bool(m.trust_remote_code)
    if trust:
        r.warnings.append("the card asks for trust_remote_code=True: code from the repository runs")
    u = m.usage
    tok_kw = dict(u.tokenizer_kwargs) if u else {}
    try:
        with time_limit(opts.timeout, f"loading the tokenizer of {r.name}"):
            tok = AutoTokenizer.from_pretrained(source, trust_remote_code=trust, **tok_kw)
    except Exception as e:  # noqa: BLE001 - reported, not raised
        r.failures.append(f"loading the tokenizer failed: {_first_line(e)}")
        return
    _tokenizer_kwargs(card, tok, source, r)
    cfg = _config(source, trust, r)
    if cfg is not None:
        _architecture(cfg, seq2seq, r)
    eos, eos_where = eos_ids(source, tok, cfg)
    stop_at = check_stops(card, tok, eos, eos_where, r)
    stop_strings = list(p.stop_strings) if p else []
    template_markers: list[str] = []
    if seq2seq:
        r.prompt = u.message if u else TEST_MESSAGE
        ids = tok(r.prompt)["input_ids"]
    else:
        assert p is not None
        before = len(r.failures)
        for special in p.special_tokens:
            enc = tok.encode(special, add_special_tokens=False)
            if len(enc) != 1:
                r.failures.append(f"{special!r} should be one special token but tokenises into {len(enc)}: {enc}")
        r.check("special tokens", before)
        got = _chat_ids(card, tok, r) if chat_style else _template_ids(card, tok, r)
        if got is None:
            return
        ids = got
        template_markers = markers(p.template or "")
    bos = tok.bos_token_id
    if bos is not None and list(ids[:2]) == [bos, bos]:
        r.failures.append(f"the model is fed two BOS tokens ({list(ids[:3])}...): the prompt writes {tok.bos_token!r} "
                          "and the tokenizer adds it too; remove it from the template, or set `prompt.bos: template`")
    if r.failures or opts.tokenizer_only:
        return
    want = (m.usage.dtype if m.usage and m.usage.dtype not in (None, "auto") else "float16") if cuda else "float32"
    r.dtype = want
    size = weight_bytes(source)
    r.weights_mb = round(size / 2**20, 1)
    need = size * max(1.0, (4 if want == "float32" else 2) / stored_dtype_bytes(source))
    free = free_bytes(cuda)
    if free is not None and need > 0.9 * free:
        r.skipped = (f"the weights need about {need / 2**30:.1f} GiB in {want} and the "
                     f"{'GPU' if cuda else 'host'} has {free / 2**30:.1f} GiB free")
        return
    dtype_kw = "dtype" if tuple(int(x) for x in transformers.__version__.split(".")[:2]) >= (4, 56) else "torch_dtype"
    kw: dict[str, Any] = {"trust_remote_code": trust, dtype_kw: getattr(torch, want)}
    if cuda:
        kw["device_map"] = "auto"
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    try:
        with time_limit(opts.timeout, f"loading {r.name}"):
            model = (AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM).from_pretrained(source, **kw)
    except Exception as e:  # noqa: BLE001 - reported, not raised
        r.failures.append(f"loading failed: {_first_line(e)}")
        return
    if not cuda:
        model.to("cpu")
    model.eval()
    r.load_s = round(time.perf_counter() - t0, 3)
    r.load_mb_per_s = round(r.weights_mb / max(r.load_s, 1e-9), 1) if size else None
    try:
        _generate(model, tok, ids, stop_at, stop_strings, template_markers, opts, r, cuda)
    finally:
        del model


def _first_difference(a: list[int], b: list[int]) -> int:
    """The first position where two token id lists differ (the shorter one's length if one extends the other)."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _template_ids(card: Card, tok: Any, r: SmokeResult) -> list[int] | None:
    """The filled raw template's ids; against the tokenizer's chat template's, when it has one."""
    p = card.model.prompt
    assert p is not None
    prompt, unfilled = fill_prompt(card)
    r.prompt = prompt
    if unfilled:
        r.failures.append(f"template placeholder(s) left unfilled: {', '.join('{' + u + '}' for u in unfilled)}")
        return None
    ids = list(tok(prompt, add_special_tokens=p.bos != "template")["input_ids"])
    if getattr(tok, "chat_template", None):
        before = len(r.failures)
        msgs = ([{"role": "system", "content": p.system_prompt}] if p.system_prompt is not None else []) + [
            {"role": "user", "content": TEST_MESSAGE}]
        try:
            chat = list(tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                                return_dict=True)["input_ids"])
        except Exception as e:  # noqa: BLE001
            r.failures.append(f"the tokenizer's chat template fails: {_first_line(e)}")
            return None
        if chat != ids:
            at = _first_difference(chat, ids)
            text = (f"the card's template gives other token ids than the tokenizer's chat template, from position "
                    f"{at}: card {ids[at:at + 4]} {tok.decode(ids[at:at + 4])!r} vs chat template {chat[at:at + 4]} "
                    f"{tok.decode(chat[at:at + 4])!r}")
            if p.chat_template_differs:
                r.warnings.append(f"{text} (the card says why: {p.chat_template_differs})")
            else:
                r.failures.append(text + "; fix the template, or say why it differs in `prompt.chat_template_differs`")
        r.check("chat template", before)
    return ids


def _chat_ids(card: Card, tok: Any, r: SmokeResult) -> list[int] | None:
    """A chat card: the tokenizer's chat template applied to the snippet's conversation; a chat template
    written in the card must give the same ids."""
    from cardgen.kinds import chat

    p = card.model.prompt
    assert p is not None
    before = len(r.failures)
    if not getattr(tok, "chat_template", None):
        r.failures.append("the card documents a chat template but the tokenizer has none (tokenizer_config.json "
                          "`chat_template`)")
        return None
    msgs = chat.snippet_messages(card.model)
    try:
        ids = list(tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                           return_dict=True)["input_ids"])
        r.prompt = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    except Exception as e:  # noqa: BLE001
        r.failures.append(f"the tokenizer's chat template fails: {_first_line(e)}")
        return None
    if p.chat_template not in (None, chat.FROM_TOKENIZER):
        assert p.chat_template is not None
        try:
            mine = chat.render(p.chat_template, msgs, tok.bos_token, tok.eos_token)
        except chat.ChatTemplateError as e:
            r.failures.append(str(e))
            return None
        card_ids = list(tok(mine, add_special_tokens=False)["input_ids"])
        if card_ids != ids:
            at = _first_difference(card_ids, ids)
            r.failures.append(f"the card's chat template gives other token ids than the tokenizer's, from position "
                              f"{at}: card {card_ids[at:at + 5]} vs tokenizer {ids[at:at + 5]}; copy "
                              "tokenizer_config.json's chat_template into `prompt.chat_template`")
    r.check("chat template", before)
    return ids


def _generate(model: Any, tok: Any, ids: list[int], stop_at: list[int], stop_strings: list[str],
              template_markers: list[str], opts: SmokeOptions, r: SmokeResult, cuda: bool) -> None:
    import torch
    from transformers import LogitsProcessorList

    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    inputs = torch.tensor([ids], device=model.device)
    first = _FirstToken()
    pad = tok.pad_token_id if tok.pad_token_id is not None else (stop_at[0] if stop_at else 0)
    gen_kw: dict[str, Any] = dict(max_new_tokens=opts.max_new_tokens, do_sample=False, eos_token_id=stop_at or None,
                                  pad_token_id=pad, max_time=opts.timeout)
    if stop_strings:
        gen_kw.update(stop_strings=stop_strings, tokenizer=tok)
    t1 = time.perf_counter()
    try:
        with torch.no_grad():
            out = model.generate(inputs, attention_mask=torch.ones_like(inputs),
                                 logits_processor=LogitsProcessorList([first]), **gen_kw)
    except Exception as e:  # noqa: BLE001
        r.failures.append(f"generation failed: {_first_line(e)}")
        return
    t2 = time.perf_counter()
    new = out[0].tolist()[1:] if encoder_decoder else out[0][len(ids):].tolist()
    r.new_tokens = len(new)
    if first.t is not None:
        r.first_token_s = round(first.t - t1, 4)
        r.tokens_per_s = round(len(new) / max(t2 - t1, 1e-9), 1)
    if cuda:
        r.peak_gpu_mb = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    import resource

    r.peak_host_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    answer_ids = new[:-1] if new and new[-1] in stop_at else new
    raw = tok.decode(answer_ids, skip_special_tokens=False)
    cut = min([raw.find(s) for s in stop_strings if s in raw] or [len(raw)])
    answer = raw[:cut]
    clean = tok.decode(answer_ids, skip_special_tokens=True)
    r.output = clean[:cut] if cut < len(raw) else clean
    if opts.timeout and t2 - t1 >= opts.timeout:
        r.failures.append(f"generation of {r.name} took longer than {opts.timeout:g} s (--timeout)")
    elif new and new[-1] in stop_at:
        r.stopped_by = f"stop token {new[-1]}"
    elif cut < len(raw):
        r.stopped_by = f"stop string {raw[cut:cut + 20]!r}"
    elif len(new) >= opts.max_new_tokens:
        r.stopped_by = "token limit"
    else:
        r.failures.append(f"generation ended after {len(new)} tokens without a stop token, stop string or the limit")
    if not r.output.strip():
        r.failures.append("the model returned no text")
    for mk in template_markers:
        if mk and mk in answer:
            r.failures.append(f"template text {mk!r} leaked into the answer")
    if not encoder_decoder:
        _force_stop(model, tok, inputs, stop_at, stop_strings, gen_kw, r)


def _force_stop(model: Any, tok: Any, inputs: Any, stop_at: list[int], stop_strings: list[str],
                gen_kw: dict[str, Any], r: SmokeResult) -> None:
    """Make the documented stop token (or the first stop string's tokens) the first new ones: the
    documented stop criteria must end generation right there."""
    import torch
    from transformers import LogitsProcessorList

    before = len(r.failures)
    cases: list[tuple[str, list[int]]] = []
    if stop_at:
        cases.append((f"stop token {stop_at[0]}", [stop_at[0]]))
    if stop_strings:
        cases.append((f"stop string {stop_strings[0]!r}", tok.encode(stop_strings[0], add_special_tokens=False)))
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
            r.failures.append(f"the documented stop criteria did not end generation at the {what}: "
                              f"{len(new)} new tokens {new[:12]}")
    r.check("forced stop", before)


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
        r.failures.append(f"loading failed: {_first_line(e)}")
        return
    r.load_s = round(time.perf_counter() - t0, 3)
    before = len(r.failures)
    _tokenizer_kwargs(card, tok, source, r)
    if r.style == "fill-mask" and tok.mask_token is None:
        r.failures.append("a fill-mask card, but the tokenizer has no mask token")
    archs = list(getattr(cfg, "architectures", None) or [])
    heads = {"text-classification": ("ForSequenceClassification",), "token-classification": ("ForTokenClassification",),
             "fill-mask": ("ForMaskedLM", "ForPreTraining"), "question-answering": ("ForQuestionAnswering",)}
    want = heads.get(r.style)
    if want and archs and not any(a.endswith(want) for a in archs):
        r.failures.append(f"the card documents {r.style}, but the model's architecture is {', '.join(archs)} "
                          f"(config.json): its snippet would load a head that was never trained")
    if r.style in ("text-classification", "token-classification"):
        labels = getattr(cfg, "id2label", None) or {}
        r.output = ", ".join(str(v) for v in labels.values())[:200]
    r.check("task head", before)
    r.weights_mb = round(weight_bytes(source) / 2**20, 1)


def run_gguf(card: Card, source: str, r: SmokeResult) -> None:
    """A GGUF card: every listed file is in the model folder, reads as GGUF, and is of the listed
    quantisation (the llama-cpp snippet runs where llama-cpp-python is installed)."""
    q = card.model.quantization
    assert isinstance(q, GGUF)
    r.dtype = "gguf"
    if importlib.util.find_spec("gguf") is None:
        r.failures.append("the gguf package is needed to read GGUF headers: `python -m pip install gguf`")
        return
    import gguf

    t0 = time.perf_counter()
    before = len(r.failures)
    for f in q.files:
        path = Path(source) / f.file
        if not path.is_file():
            r.failures.append(f"{f.file} is listed but not in {source}")
            continue
        try:
            reader = gguf.GGUFReader(str(path))
            fld = reader.get_field("general.file_type")
            kind = gguf.LlamaFileType(int(fld.parts[fld.data[0]][0])).name if fld else None
        except Exception as e:  # noqa: BLE001 - a file that does not parse, whatever the reader raises
            r.failures.append(f"{f.file} does not read as GGUF: {_first_line(e)}")
            continue
        if kind is None:
            r.warnings.append(f"{f.file} does not say its quantisation (no general.file_type)")
        elif kind.removeprefix("MOSTLY_").removeprefix("ALL_") != f.quant_method.upper():
            r.failures.append(f"{f.file} is listed as {f.quant_method} but its header says "
                              f"{kind.removeprefix('MOSTLY_').removeprefix('ALL_')}")
    r.check("GGUF files", before)
    r.load_s = round(time.perf_counter() - t0, 3)
    r.output = f"{len(q.files)} file(s) checked"


# -- the usage snippet ----------------------------------------------------------------------------
def snippet_of(readme: str) -> str | None:
    m = re.search(r"^```python\n(.*?)^```", readme, re.S | re.M)
    return m.group(1) if m else None


def _snippet_child(code: str, env: dict[str, str], out_path: str, err_path: str) -> None:
    """In a process forked from the warm server: the snippet as `python -c` would run it."""
    os.environ.update(env)
    for fd, path in ((1, out_path), (2, err_path)):
        f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(f, fd)
        os.close(f)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the process's own stdout, kept open
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    status = 0
    try:
        exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102 - the card's own snippet
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported as `python -c` reports it
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


class SnippetServer:
    """Fresh processes for the snippets, forked from one server that imports torch and transformers
    once (multiprocessing's forkserver); ``run`` falls back to `python -c` where there is none."""

    #: what every snippet imports: torch, and the parts of transformers that its Auto classes pull in
    PRELOAD = ["torch", "transformers", "transformers.modeling_utils", "transformers.masking_utils",
               "transformers.activations", "transformers.generation", "transformers.models.auto.modeling_auto",
               "transformers.models.auto.tokenization_auto"]

    def __init__(self) -> None:
        import multiprocessing

        self.ctx: Any = None
        if "forkserver" in multiprocessing.get_all_start_methods():
            self.ctx = multiprocessing.get_context("forkserver")
            self.ctx.set_forkserver_preload([m for m in self.PRELOAD if importlib.util.find_spec(m.split(".")[0])])

    def start(self) -> None:
        """Start the server now, so that its imports overlap the checks that come before the first snippet."""
        if self.ctx is not None:
            from multiprocessing import forkserver

            with contextlib.suppress(Exception):  # no server: `run` starts one, or falls back to `python -c`
                forkserver.ensure_running()

    def run(self, code: str, env: dict[str, str], timeout: float) -> tuple[int | None, str, str]:
        """(exit status or None on timeout, stdout, stderr)."""
        if self.ctx is None:
            try:
                p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                                   env={**os.environ, **env})
            except subprocess.TimeoutExpired:
                return None, "", ""
            return p.returncode, p.stdout, p.stderr
        with tempfile.TemporaryDirectory(prefix="cardgen-snippet-") as d:
            out, err = os.path.join(d, "out"), os.path.join(d, "err")
            proc = self.ctx.Process(target=_snippet_child, args=(code, env, out, err), daemon=True)
            proc.start()
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()
                return None, "", ""
            read = lambda p: Path(p).read_text("utf-8", "replace") if Path(p).exists() else ""  # noqa: E731
            return proc.exitcode, read(out), read(err)


def run_snippet(readme: str, repo_id: str, local_dir: str, device: str, r: SmokeResult, timeout: float | None = 600,
                server: SnippetServer | None = None) -> str:
    """Run the README's usage snippet with the repo id pointed at the local model."""
    code = snippet_of(readme)
    if code is None:
        r.warnings.append("the README has no python usage snippet")
        return "skipped"
    code = code.replace(json.dumps(repo_id), json.dumps(str(local_dir)))
    code = code.replace('"cuda"', json.dumps(device)).replace(".cuda()", f".to({json.dumps(device)})")
    env = {**OFFLINE, "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    status, stdout, stderr = (server or SnippetServer()).run(code, env, timeout or 600)
    r.snippet_s = round(time.perf_counter() - t0, 3)
    if status is None:
        r.failures.append(f"usage snippet did not finish within {timeout or 600:g} s")
        return "failed"
    if status != 0:
        lines = code.splitlines()
        where = re.findall(r'File "<string>", line (\d+)', stderr)
        last = [ln for ln in stderr.strip().splitlines() if ln.strip()][-1:] or ["(no message)"]
        at = ""
        if where:
            n = int(where[-1])
            at = f" at snippet line {n}: {lines[n - 1].strip() if 0 < n <= len(lines) else ''!r}"
        r.failures.append(f"usage snippet failed{at}: {last[0].strip()}")
        return "failed"
    if not stdout.strip():
        r.failures.append("usage snippet printed nothing")
        return "failed"
    return "ok"


# -- the run ---------------------------------------------------------------------------------
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


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("cardgen", "torch", "transformers", "huggingface_hub", "sentence-transformers", "gguf"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def smoke(opts: SmokeOptions, progress: Callable[..., None]) -> tuple[Report, int]:
    """Smoke-test every card in scope; the report (per-model results) and the exit code."""
    report = Report("smoke")
    missing = missing_extra()
    if missing:
        report.notes.append(f"cardgen: error: {missing} is not installed; {EXTRA_HINT}")
        return report, 2
    rendering = render_all(select(list(opts.paths)), policy=opts.policy)
    report.diagnostics = rendering.diagnostics
    known = set(rendering.cards) | set(rendering.failed)
    stray = sorted(set(opts.model_paths) - known)
    if stray:
        report.notes.append(f"cardgen: error: --model-path names {', '.join(stray)}, which no card in scope "
                            f"describes{_close(stray[0], known)}")
        return report, 2
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
    done: dict[tuple[str, str], SmokeResult] = {}
    server = None if opts.no_snippet or opts.tokenizer_only else SnippetServer()
    t0 = time.perf_counter()
    try:
        with _environment({} if opts.allow_download else OFFLINE):
            if server is not None and any(r in rendering.texts for r, _ in todo):
                server.start()  # inherits the offline environment
            for i, (repo, branch) in enumerate(todo, 1):
                try:
                    r = run_one(rendering.cards[repo], branch, rendering.texts.get(repo), opts, done, server)
                except Timeout as e:
                    r = SmokeResult(repo, branch, failures=[str(e)])
                except Exception as e:  # noqa: BLE001 - one model's crash is that model's failure
                    r = SmokeResult(repo, branch, failures=[f"crashed: {_first_line(e)}"])
                results.append(r)
                progress(f"[{i}/{len(todo)}] {r.name}: {'skipped' if r.skipped else 'ok' if r.ok else 'FAILED'}",
                         done=i, total=len(todo))
    finally:  # the report is written whatever happened, Ctrl-C included
        data = [asdict(r) | {"name": r.name} for r in results]
        if opts.json:
            doc = {"versions": versions(), "tier": "tokenizer" if opts.tokenizer_only else "full",
                   "seconds": round(time.perf_counter() - t0, 3), "results": data}
            opts.json.write_text(json.dumps(doc, indent=2), "utf-8")
    failed = [r for r in results if not r.ok and not r.skipped]
    skipped = [r for r in results if r.skipped]
    report.results = data
    report.checked = plural(len(results), "model")
    report.lines = [format_result(r) for r in results] + [
        f"{len(results) - len(failed) - len(skipped)} passed, {len(failed)} failed"
        + (f", {len(skipped)} skipped" if skipped else "")]
    return report, int(bool(failed))


def _close(word: str, choices: set[str]) -> str:
    m = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean {m[0]}?)" if m else ""
