"""The smoke run: the (repository, branch) pairs in scope, each model's checks by the card's snippet
style (``run_one``), and the report (``smoke``), whose JSON is written whatever happens."""

from __future__ import annotations

import contextlib
import difflib
import gc
import importlib
import importlib.util
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

from cardgen.card import Card
from cardgen.diagnostics import Diagnostic, plural
from cardgen.files import atomic_write
from cardgen.kinds.tasks import STYLES, style_of
from cardgen.loading.scope import select
from cardgen.pipeline.run import Rendering, render_all
from cardgen.report import Report, json_text
from cardgen.schema import AWQ, EXL2, GGUF, GPTQ, branches
from cardgen.smoke import codes
from cardgen.smoke.encoder import run_encoder
from cardgen.smoke.generate import run_generate
from cardgen.smoke.gguf import run_gguf
from cardgen.smoke.models import OFFLINE, digests, host_peak_mb, locate, reset_host_peak
from cardgen.smoke.options import SmokeOptions
from cardgen.smoke.quiet import captured
from cardgen.smoke.result import SmokeResult, Timeout, failed, first_line, format_result, summary
from cardgen.smoke.snippet import SnippetServer, require_snippet, run_snippet

EXTRA_HINT = ("the smoke test needs torch and transformers: `python -m pip install torch==2.13.0 'cardgen[smoke]'` "
              "(install torch first to pick the CPU build)")


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


# -- one model -----------------------------------------------------------------------------------
def run_one(card: Card, branch: str | None, readme: str | None, opts: SmokeOptions,
            folder_done: dict[tuple[str, str], SmokeResult], server: SnippetServer | None) -> SmokeResult:
    import torch

    r = SmokeResult(card.repo_id, branch)
    r.style = style_of(card.model)
    cuda = torch.cuda.is_available() and opts.device != "cpu"
    r.device = "cuda" if cuda else "cpu"
    r.skipped = _not_here(card, opts, cuda)
    if r.skipped:
        return r
    source = locate(card.repo_id, branch, opts, r)
    if source is None:
        return r
    r.source = source
    earlier = folder_done.get((card.repo_id, source))
    if earlier is not None:  # nine GPTQ branches given one folder: it is loaded and judged once
        return replace(earlier, branch=branch, warnings=[*earlier.warnings,
                                                         f"same folder as {earlier.name}: its result, not run again"])
    reset_host_peak()  # this model's peak, not the run's
    _check(card, source, opts, r, cuda)
    r.peak_host_mb = host_peak_mb()
    r.digests = digests(source, weights=not opts.tokenizer_only and not r.skipped)  # the files judged
    if readme is not None:
        require_snippet(card, readme, r)
    if opts.tokenizer_only:  # every copy of the chat template and the stops in the folder (cardgen.folder)
        from cardgen.folder.check import copies_only

        for d in copies_only(card, Path(source)):
            (r.failures if d.severity == "error" else r.warnings).append(f"{d.code} {d.message}")
    gc.collect()  # the model is freed before the snippet loads its own copy
    if cuda:
        torch.cuda.empty_cache()
    if not r.failures and not r.skipped and not opts.tokenizer_only and not opts.no_snippet:
        r.snippet = _snippet(card, readme, source, opts, r, server)
    r.ok = not r.failures
    folder_done[(card.repo_id, source)] = r
    return r


def _not_here(card: Card, opts: SmokeOptions, cuda: bool) -> str | None:
    """Why a quantised variant cannot be smoke-tested on this machine; None when it can."""
    q = card.model.quantization
    if isinstance(q, EXL2):
        return "EXL2 variants load with exllamav2, which transformers does not drive: not smoke-tested here"
    if isinstance(q, (GPTQ, AWQ)) and not opts.tokenizer_only:
        backends = {"GPTQ": ("gptqmodel", "auto_gptq"), "AWQ": ("awq",)}[q.method]
        if not cuda:
            return f"{q.method} variants need a CUDA GPU; none is present"
        if not any(importlib.util.find_spec(b) for b in backends):
            return f"{q.method} kernels are not installed: install one of {', '.join(backends)}"
    return None


def _check(card: Card, source: str, opts: SmokeOptions, r: SmokeResult, cuda: bool) -> None:
    """The checks of the card's kind: GGUF headers, an encoder's task head, or the generating tiers."""
    if isinstance(card.model.quantization, GGUF):
        run_gguf(card, source, r)
        return
    spec = STYLES.get(r.style)
    if spec is not None and not spec.generates:
        run_encoder(card, source, opts, r)
    else:
        run_generate(card, source, opts, r, cuda)


def _snippet(card: Card, readme: str | None, source: str, opts: SmokeOptions, r: SmokeResult,
             server: SnippetServer | None) -> str:
    """The card's rendered usage snippet, run on the local model: "ok", "failed" or "skipped"."""
    if readme is None or (card.model.usage is not None and card.model.usage.none is not None):
        return "skipped"
    if isinstance(card.model.quantization, GGUF) and importlib.util.find_spec("llama_cpp") is None:
        r.warnings.append("llama-cpp-python is not installed: the usage snippet was not run")
        return "skipped"
    return run_snippet(readme, card.repo_id, source, r.device, r, opts.timeout, server, opts.allow_download)


def _guarded(card: Card, branch: str | None, readme: str | None, opts: SmokeOptions,
             done: dict[tuple[str, str], SmokeResult], server: SnippetServer | None) -> SmokeResult:
    """``run_one``, where one model's crash (or timeout) is that model's failure."""
    try:
        return run_one(card, branch, readme, opts, done, server)
    except Timeout as e:
        r = SmokeResult(card.repo_id, branch)
        r.fail(codes.TIMEOUT, str(e), "timeout")
    except Exception as e:  # noqa: BLE001 - one model's crash is that model's failure
        r = SmokeResult(card.repo_id, branch)
        r.fail(codes.CRASH, f"crashed: {first_line(e)}", "crash")
    return r


# -- the run -------------------------------------------------------------------------------------
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
    """Smoke-test every card in scope; the report (the diagnostics of the cards smoked, per-model results, and
    the run's `document`: versions, tier, command line, start time) and the exit code. ``--json FILE`` gets the
    very document that ``--format json`` prints."""
    report = Report("smoke")
    missing = missing_extra()
    if missing:
        report.notes.append(f"cardgen: error: {missing} is not installed; {EXTRA_HINT}")
        return report, 2
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rendering = render_all(select(list(opts.paths)), policy=opts.policy)
    try:
        todo = _todo(opts, rendering.cards, set(rendering.cards) | set(rendering.failed))
    except ValueError as e:
        report.notes.append(f"cardgen: error: {e}")
        return report, 2
    report.diagnostics = own_diagnostics(rendering, {repo for repo, _ in todo} | set(rendering.failed))
    results = []
    for repo in rendering.failed:
        results.append(SmokeResult(repo, None))
        results[-1].fail(codes.INVALID_CARD, "the card fails validation or rendering", "validation")
    server = None if opts.no_snippet or opts.tokenizer_only else SnippetServer()
    t0 = time.perf_counter()
    unwritten = False
    try:
        _run_all(todo, rendering, opts, server, results, progress)
    finally:  # the report is written whatever happened, Ctrl-C included
        report.results = [asdict(r.settle()) | {"name": r.name} for r in results]
        report.checked = plural(len(results), "model")
        report.failures = {"failed": sum(map(failed, results))}
        report.document = {"versions": versions(), "tier": "tokenizer" if opts.tokenizer_only else "full",
                           "command_line": opts.command_line, "started": started,
                           "seconds": round(time.perf_counter() - t0, 3)}
        if opts.json:
            try:
                atomic_write(opts.json, json_text(report))
            except OSError as e:  # the report is still printed: the run is not lost
                report.notes.append(f"cardgen: error: cannot write {opts.json}: {e.strerror or e}")
                unwritten = True
    report.lines = [format_result(r) for r in results] + [summary(results)]
    return report, int(any(map(failed, results)) or unwritten)


def own_diagnostics(rendering: Rendering, repos: set[str]) -> list[Diagnostic]:
    """The diagnostics that concern the cards smoked: every error (a card may fail by one in a shared file), and
    the warnings on the files that write those cards (not the catalogue's warnings about other entries)."""
    files = set()
    for repo in repos:
        card = rendering.cards.get(repo)
        while card is not None:
            files |= {d.file for src in (card.src, *card.origin.values()) for d in src.docs}
            card = card.base
    return [d for d in rendering.diagnostics if d.severity == "error" or d.file in files]


def _todo(opts: SmokeOptions, cards: dict[str, Card], known: set[str]) -> list[tuple[str, str | None]]:
    """The (repository, branch) pairs of this shard; ValueError when ``--model-path`` names a repository
    that no card in scope (``known``) describes, or ``--shard`` is malformed."""
    stray = sorted(set(opts.model_paths) - known)
    if stray:
        raise ValueError(f"--model-path names {', '.join(stray)}, which no card in scope describes"
                         f"{_close(stray[0], known)}")
    return shard(targets(cards), opts.shard)


def _run_all(todo: list[tuple[str, str | None]], rendering: Rendering, opts: SmokeOptions,
             server: SnippetServer | None, results: list[SmokeResult], progress: Callable[..., None]) -> None:
    """Each (repository, branch) in turn, offline unless ``--allow-download``, with transformers' logs and
    progress bars captured into its result; ``results`` grows as they end."""
    done: dict[tuple[str, str], SmokeResult] = {}
    with _environment({} if opts.allow_download else OFFLINE):
        if server is not None and any(r in rendering.texts for r, _ in todo):
            server.start()  # inherits the offline environment
        for i, (repo, branch) in enumerate(todo, 1):
            with captured() as logs:
                r = _guarded(rendering.cards[repo], branch, rendering.texts.get(repo), opts, done, server)
            r.log = [*r.log, *logs]
            results.append(r)
            progress(f"[{i}/{len(todo)}] {r.name}: {'skipped' if r.skipped else 'ok' if r.ok else 'FAILED'}",
                     done=i, total=len(todo))


def _close(word: str, choices: set[str]) -> str:
    m = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean {m[0]}?)" if m else ""
