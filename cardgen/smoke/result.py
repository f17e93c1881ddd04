"""One model's smoke result (`SmokeResult`), how the report writes it, and how a check's failure is
worded: an exception by its first line, a check that runs past ``--timeout`` as a `Timeout`."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field


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
    codes: dict[str, str] = field(default_factory=dict)  # failure -> its code (CG9xx, `smoke.codes`)
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

    def fail(self, code: str, message: str) -> None:
        """A failure with its stable code (declared in ``cardgen.smoke.codes``)."""
        self.failures.append(message)
        self.codes[message] = code

    def check(self, name: str, failures_before: int) -> None:
        self.checks[name] = "ok" if len(self.failures) == failures_before else "failed"


def first_line(e: BaseException) -> str:
    """An exception as a failure names it: its type and the first line of its message."""
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def time_limit(seconds: float | None, what: str) -> contextlib.AbstractContextManager[None]:
    """Raise ``Timeout`` when the block runs longer than ``seconds``, naming ``what``."""
    from cardgen.limits import time_limit as limit

    return limit(seconds, lambda: Timeout(f"{what} took longer than {seconds:g} s (--timeout)"))


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
    lines += [f"  FAIL: {f}" + (f" [{r.codes[f]}]" if f in r.codes else "") for f in r.failures]
    return "\n".join(lines)


def failed(r: SmokeResult) -> bool:
    """A failure, as the exit code counts it: not ok, and not skipped."""
    return not r.ok and not r.skipped


def summary(results: list[SmokeResult]) -> str:
    """The report's last line: how many models passed, failed and were skipped."""
    n_failed = sum(map(failed, results))
    n_skipped = sum(1 for r in results if r.skipped)
    return f"{len(results) - n_failed - n_skipped} passed, {n_failed} failed" + (
        f", {n_skipped} skipped" if n_skipped else "")
