"""The card's own usage snippet, run on the local model: the README's first python block, pointed at the
local folder and device, in a fresh process forked from a server that has already imported torch and
transformers (`SnippetServer`)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from cardgen.smoke.models import OFFLINE
from cardgen.smoke.result import SmokeResult


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
        r.failures.append(_failure(code, stderr))
        return "failed"
    if not stdout.strip():
        r.failures.append("usage snippet printed nothing")
        return "failed"
    return "ok"


def _failure(code: str, stderr: str) -> str:
    """A failed snippet's failure: the snippet line of the last traceback entry, and the error's last line."""
    lines = code.splitlines()
    where = re.findall(r'File "<string>", line (\d+)', stderr)
    last = [ln for ln in stderr.strip().splitlines() if ln.strip()][-1:] or ["(no message)"]
    at = ""
    if where:
        n = int(where[-1])
        at = f" at snippet line {n}: {lines[n - 1].strip() if 0 < n <= len(lines) else ''!r}"
    return f"usage snippet failed{at}: {last[0].strip()}"
