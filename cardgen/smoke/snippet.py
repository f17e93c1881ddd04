"""The card's own usage snippet, run on the local model: the README's first python block, pointed at the
local folder and device, in a fresh process forked from a server that has already imported torch and
transformers (`SnippetServer`).

The snippet is the card author's code: it runs with none of the caller's credentials (``environment``):
no variable that holds one (``secret``), huggingface_hub's home and token file in an empty folder of its
own (the models' cache, ``HF_HUB_CACHE``, stays where it is, so that what is downloaded is found), the
usual credential files of requests and the cloud tools pointed there too, and offline unless
``--allow-download``. The server that snippets are forked from is started without those variables.
What this does not stop: code that opens a credentials file by its path, or reads the environment of
another of the user's processes (``/proc/PID/environ``); only another user, or a container, would.
"""

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cardgen.card import Card
from cardgen.smoke import codes
from cardgen.smoke.models import OFFLINE
from cardgen.smoke.result import SmokeResult


def snippet_of(readme: str) -> str | None:
    m = re.search(r"^```python\n(.*?)^```", readme, re.S | re.M)
    return m.group(1) if m else None


def require_snippet(card: Card, readme: str, r: SmokeResult) -> None:
    """A card's README shows a python usage snippet, or the card says why it shows none (`usage.none`)."""
    u = card.model.usage
    if (u is None or u.none is None) and snippet_of(readme) is None:
        r.fail(codes.NO_SNIPPET, "the README shows no python usage snippet, and the card does not say why: "
                                 "document `usage`, or say why there is none in `usage.none`")


#: variables that hold a credential, by a word of their name (HF_TOKEN, HUGGING_FACE_HUB_TOKEN, GITHUB_TOKEN,
#: ACTIONS_ID_TOKEN_REQUEST_*, SSH_AUTH_SOCK, WANDB_API_KEY, HF_OIDC_RESOURCE...), and whole families of cloud
#: settings (AWS_*, AZURE_* and Terraform's ARM_*, GOOGLE_APPLICATION_CREDENTIALS and Google Cloud's)
_SECRET = re.compile(r"(^|_)(TOKENS?|SECRETS?|PASSWORD|PASSWD|PASSPHRASE|CREDENTIALS?|KEYS?|APIKEY|AUTH|COOKIES?|OIDC)"
                     r"(_|$)|^(AWS|AZURE|ARM|GOOGLE|GCLOUD|GCP|CLOUDSDK)_", re.I)


def secret(name: str) -> bool:
    """Whether an environment variable may hold a credential (TOKENIZERS_PARALLELISM does not)."""
    return bool(_SECRET.search(name))


def environment(home: str, allow_download: bool) -> dict[str, str]:
    """The whole environment a snippet runs in: this process's without its credentials, huggingface_hub's
    home (token file included) and the default credential files of requests, AWS, gcloud and Azure in
    the empty folder ``home``, the model cache where this process has it; offline unless ``allow_download``."""
    from huggingface_hub import constants

    env = {k: v for k, v in os.environ.items() if not secret(k)}
    env.update({
        "PYTHONUNBUFFERED": "1", "HF_HUB_CACHE": constants.HF_HUB_CACHE, "HF_HOME": home,
        "HF_TOKEN_PATH": os.path.join(home, "token"), "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
        "NETRC": os.path.join(home, "netrc"), "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "aws-credentials"),
        "AWS_CONFIG_FILE": os.path.join(home, "aws-config"), "CLOUDSDK_CONFIG": os.path.join(home, "gcloud"),
        "AZURE_CONFIG_DIR": os.path.join(home, "azure"),
    })
    if not allow_download:
        env.update(OFFLINE)
    return env


@contextlib.contextmanager
def _without_secrets() -> Iterator[None]:
    """This process's environment without credentials, for the while that the server is started (it is a
    new program: its first environment is what it is given, and every snippet is forked from it)."""
    kept = {k: os.environ.pop(k) for k in list(os.environ) if secret(k)}
    try:
        yield
    finally:
        os.environ.update(kept)


def _settle(env: dict[str, str]) -> None:
    """In the snippet's process: ``env`` as its environment, and in the settings huggingface_hub read
    when the server imported it (its home, token file and offline mode are read once, at import)."""
    os.environ.clear()
    os.environ.update(env)
    hub = sys.modules.get("huggingface_hub.constants")
    if hub is not None:
        for name, value in (("HF_HOME", env["HF_HOME"]), ("HF_TOKEN_PATH", env["HF_TOKEN_PATH"]),
                            ("HF_STORED_TOKENS_PATH", os.path.join(env["HF_HOME"], "stored_tokens")),
                            ("HF_HUB_DISABLE_IMPLICIT_TOKEN", True),
                            ("HF_HUB_OFFLINE", hub.HF_HUB_OFFLINE or env.get("HF_HUB_OFFLINE") == "1")):
            setattr(hub, name, value)


def _snippet_child(code: str, env: dict[str, str], out_path: str, err_path: str) -> None:
    """In a process forked from the warm server: the snippet as `python -c` would run it."""
    _settle(env)
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
        self.started = False
        if "forkserver" in multiprocessing.get_all_start_methods():
            self.ctx = multiprocessing.get_context("forkserver")
            self.ctx.set_forkserver_preload([m for m in self.PRELOAD if importlib.util.find_spec(m.split(".")[0])])

    def start(self) -> None:
        """Start the server now, so that its imports overlap the checks that come before the first snippet;
        started without credentials in its environment (``_without_secrets``)."""
        if self.ctx is not None and not self.started:
            from multiprocessing import forkserver

            self.started = True
            with contextlib.suppress(Exception), _without_secrets():  # no server: `run` starts one, or falls
                forkserver.ensure_running()  # back to `python -c`

    def run(self, code: str, env: dict[str, str], timeout: float) -> tuple[int | None, str, str]:
        """(exit status or None on timeout, stdout, stderr), the snippet run in ``env`` (all of it)."""
        if self.ctx is None:
            try:
                p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                                   env=env)
            except subprocess.TimeoutExpired:
                return None, "", ""
            return p.returncode, p.stdout, p.stderr
        with tempfile.TemporaryDirectory(prefix="cardgen-snippet-") as d:
            out, err = os.path.join(d, "out"), os.path.join(d, "err")
            self.start()
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
                server: SnippetServer | None = None, allow_download: bool = False) -> str:
    """Run the README's usage snippet with the repo id pointed at the local model, in ``environment``."""
    code = snippet_of(readme)
    if code is None:
        r.warnings.append("the README has no python usage snippet")
        return "skipped"
    code = code.replace(json.dumps(repo_id), json.dumps(str(local_dir)))
    code = code.replace('"cuda"', json.dumps(device)).replace(".cuda()", f".to({json.dumps(device)})")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cardgen-snippet-home-") as home:
        status, stdout, stderr = (server or SnippetServer()).run(code, environment(home, allow_download),
                                                                 timeout or 600)
    r.snippet_s = round(time.perf_counter() - t0, 3)
    if status is None:
        r.fail(codes.SNIPPET, f"usage snippet did not finish within {timeout or 600:g} s")
        return "failed"
    if status != 0:
        r.fail(codes.SNIPPET, _failure(code, stderr))
        return "failed"
    if not stdout.strip():
        r.fail(codes.SNIPPET, "usage snippet printed nothing")
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
