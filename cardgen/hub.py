"""The Hub, reached one way: huggingface_hub's own client, bounded. `publish`, `import` and `smoke` all go
through here.

huggingface_hub's shared HTTP client has no timeout, retries a failed request up to five times with
waits of up to 8 s, obeys any `Retry-After`, logs a warning per retry and reads JSON answers whole.
cardgen installs a client factory (``set_client_factory``, its public hook) whose transport keeps the
bounds of the operation under way in this thread (``operation``):

* a **deadline** for the operation, all requests and retries together: each attempt's timeout is the
  time left, and once it has passed the next attempt fails at once, with an error that is not retried;
* at most ``attempts`` attempts of one request (a retried request counts again);
* `Retry-After` capped at ``retry_after_cap`` seconds;
* an answer's body capped at ``max_bytes``, counted as it streams (a longer one fails, never read whole),
  and read within the deadline too: an answer that trickles in, a byte now and then, stops there.

Outside an operation (a thread huggingface_hub starts for itself) only the timeout per request holds.
huggingface_hub's logs are turned down to errors: one line per failure is cardgen's to write
(``explain``, the one error ladder), never with the token in it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class Bounds:
    timeout: float = 20.0  # seconds to connect or to wait for data, per attempt
    deadline: float = 55.0  # seconds for the whole operation, every request and retry together
    retry_after_cap: float = 10.0  # the longest `Retry-After` obeyed
    max_bytes: int | None = 10 * 1024 * 1024  # the largest answer read (None: no cap, e.g. model weights)
    attempts: int = 2  # tries of one request, the first included


def endpoint() -> str:
    """The Hub's address: `HF_ENDPOINT` when set (a mirror, a test server), else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def repo_url(repo: str, revision: str | None = None) -> str:
    """A repository's page on the Hub in use (it follows `HF_ENDPOINT`)."""
    return f"{endpoint()}/{repo}" + (f"/tree/{revision}" if revision else "")


def commit_url(repo: str, oid: str) -> str:
    """A commit's page on the Hub in use."""
    return f"{endpoint()}/{repo}/commit/{oid}"


def discussion_url(repo: str, number: int) -> str:
    """A pull request's (or discussion's) page on the Hub in use."""
    return f"{endpoint()}/{repo}/discussions/{number}"


# -- the bounded transport -----------------------------------------------------------------------------
_state = threading.local()


@dataclass
class _Operation:
    bounds: Bounds
    ends: float  # time.monotonic() deadline
    tries: dict[tuple[str, str], int]
    last: str = ""  # what the last failed attempt got: an error's name, or the Hub's status


@contextlib.contextmanager
def operation(bounds: Bounds) -> Iterator[None]:
    """Run the block's Hub requests (in this thread) under ``bounds``; inside another operation, by the
    earlier of the two deadlines."""
    install()
    outer: _Operation | None = getattr(_state, "op", None)
    ends = time.monotonic() + bounds.deadline
    _state.op = _Operation(bounds, ends if outer is None else min(ends, outer.ends), {})
    try:
        yield
    finally:
        _state.op = outer


class Stopped(Exception):
    """A request cardgen stopped (the deadline passed, too many attempts, an answer too large): not retried."""


_installed: list[Any] = []
_lock = threading.Lock()


def install() -> None:
    """Make huggingface_hub's shared client the bounded one, and its logs quiet (once per process)."""
    with _lock:
        if _installed:
            return
        from huggingface_hub.utils import _http as hf_http
        from huggingface_hub.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        probe = hf_http.default_client_factory()
        httpx = __import__(type(probe).__module__.split(".")[0])  # httpx (huggingface_hub 1.x) or httpx2 (2.x)
        probe.close()
        transport = _transport_class(httpx)

        def factory() -> Any:
            client = hf_http.default_client_factory()
            client._transport = transport(client._transport)  # the default transport, wrapped
            client.timeout = httpx.Timeout(Bounds.timeout)
            return client

        hf_http.set_client_factory(factory)
        _installed.append(transport)


def _transport_class(httpx: Any) -> type:
    # what huggingface_hub retries is a TimeoutException, a NetworkError or a RemoteProtocolError; a plain
    # TransportError is none of them, so a stop is final (and still a transport error to its callers)
    class Stop(httpx.TransportError, Stopped):
        pass

    def stop(message: str, request: Any) -> Exception:
        e = Stop(message)
        e.request = request  # what httpx's errors carry (huggingface_hub may name it in a log line)
        return e

    class Counted(httpx.SyncByteStream):
        def __init__(self, stream: Any, cap: int, op: _Operation) -> None:
            self.stream, self.cap, self.seen, self.op = stream, cap, 0, op

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.stream:
                self.seen += len(chunk)
                if self.seen > self.cap:
                    raise Stop(f"the Hub's answer is over {self.cap:,} bytes, the most cardgen reads")
                if time.monotonic() > self.op.ends:  # each read waits at most the time left when it was sent
                    raise Stop(f"the Hub's answer did not end within the deadline of {self.op.bounds.deadline:g} s "
                               f"({self.seen:,} bytes read)")
                yield chunk

        def close(self) -> None:
            self.stream.close()

    class Bounded(httpx.BaseTransport):
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def handle_request(self, request: Any) -> Any:
            op: _Operation | None = getattr(_state, "op", None)
            if op is None:
                return self.inner.handle_request(request)
            left = op.ends - time.monotonic()
            if left <= 0:
                raise stop(f"no answer from {endpoint()} within the deadline of {op.bounds.deadline:g} s"
                           + (f" (last: {op.last})" if op.last else ""), request)
            key = (request.method, str(request.url))
            op.tries[key] = op.tries.get(key, 0) + 1
            if op.tries[key] > op.bounds.attempts:
                raise stop(f"{op.last or 'no answer'} from {endpoint()} (gave up after {op.bounds.attempts} attempts)",
                           request)
            t = min(op.bounds.timeout, left)
            request.extensions["timeout"] = {"connect": t, "read": t, "write": t, "pool": t}
            try:
                response = self.inner.handle_request(request)
            except Exception as e:
                op.last = f"network error ({type(e).__name__})"
                raise
            if response.status_code >= 500 or response.status_code in (408, 429):
                op.last = f"status {response.status_code}"
            ra = response.headers.get("Retry-After", "")
            if ra.strip().isdigit() and int(ra) > op.bounds.retry_after_cap:
                response.headers["Retry-After"] = str(int(op.bounds.retry_after_cap))
            cap = op.bounds.max_bytes
            if cap is None:
                return response
            size = response.headers.get("Content-Length", "")
            if size.isdigit() and int(size) > cap:
                response.close()
                raise stop(f"the Hub's answer is {int(size):,} bytes; cardgen reads at most {cap:,}", request)
            return httpx.Response(response.status_code, headers=response.headers,
                                  stream=Counted(response.stream, cap, op), extensions=response.extensions,
                                  request=request)

        def close(self) -> None:
            self.inner.close()

    return Bounded


# -- errors: one line each ---------------------------------------------------------------------------
def status(e: BaseException) -> int | None:
    """The HTTP status behind an error, huggingface_hub's wrapping included."""
    for cause in (e, e.__cause__, e.__context__):
        code = getattr(getattr(cause, "response", None), "status_code", None)
        if code is not None:
            return int(code)
    return None


def is_network(e: BaseException) -> bool:
    """The Hub could not be reached, or stopped answering (no answer to judge)."""
    names = {c.__name__ for c in type(e).__mro__}
    return bool(names & {"ConnectError", "ConnectionError", "TimeoutException", "NetworkError", "ReadTimeout",
                         "ConnectTimeout", "OfflineModeIsEnabled", "LocalEntryNotFoundError", "TransportError"})


def repo_missing(e: BaseException) -> bool:
    """The Hub says the repository does not exist (or the token cannot see it), not that it is gated."""
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    return isinstance(e, RepositoryNotFoundError) and not isinstance(e, GatedRepoError)


def answer_lost(e: BaseException) -> bool:
    """A failure after which a write may have been stored: a server error or a lost connection."""
    import json

    code = status(e)
    return (code is not None and code >= 500) or is_network(e) or isinstance(e, json.JSONDecodeError)


def scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


def explain(e: BaseException, repo: str, revision: str | None = None, attempt: str = "",
            token: str | None = None) -> str:
    """The one line that says why a Hub request failed (and what to do), never with the token."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = repo + (f"@{revision}" if revision else "")
    code = status(e)
    stopped = next((c for c in (e, e.__cause__, e.__context__) if isinstance(c, Stopped)), None)
    if stopped is not None:
        msg = str(stopped)
    elif isinstance(e, RevisionNotFoundError):
        msg = f"branch {revision!r} does not exist in {repo}"
    elif code == 401:
        msg = "authentication failed (401): set HF_TOKEN or run `hf auth login` with a valid token"
    elif code == 403:
        verb = "read" if attempt.startswith(("reading", "cannot fetch")) else "write to"
        msg = f"permission denied (403): the token cannot {verb} {repo}"
    elif code == 429:
        msg = "rate limited by the Hub (429): try again later or lower --jobs"
    elif code is not None and code >= 500:
        msg = f"the Hub answered {code}: try again later"
    elif isinstance(e, RepositoryNotFoundError) or (code == 404 and not isinstance(e, EntryNotFoundError)):
        msg = f"not found (404): {repo} does not exist on the Hub ({endpoint()}), or the token cannot see it"
    elif is_network(e) and os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "on", "yes", "true"):
        msg = f"HF_HUB_OFFLINE is set: {endpoint()} is not asked"
    elif is_network(e):  # LocalEntryNotFoundError (a kind of EntryNotFoundError) included: no answer to judge
        msg = f"network error reaching {endpoint()}: {type(e).__name__}"
    elif isinstance(e, EntryNotFoundError):
        msg = f"{where} has no such file"
    elif isinstance(e, HfHubHTTPError):
        msg = f"the Hub refused the request ({code}): {str(e).splitlines()[0]}"
    elif isinstance(e, ValueError) and "metadata" in str(e):
        msg = "the Hub refused the front matter: " + " ".join(str(e).split())
    else:
        msg = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return scrub(f"{attempt}: {msg}" if attempt else msg, token)


# -- what cardgen asks of the Hub ----------------------------------------------------------------------
class Hub:
    """huggingface_hub's API under ``bounds``; ``token`` None: huggingface_hub's own lookup."""

    def __init__(self, bounds: Bounds = Bounds(), token: str | None = None) -> None:
        from huggingface_hub import HfApi

        install()
        self.bounds = bounds
        self.token = token
        self.api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)

    def readme(self, repo: str, revision: str | None, folder: str) -> tuple[str | None, str | None]:
        """(a repository's README.md, the commit it was read at when known); (None, None) when the Hub says
        the repository has none. Downloaded into ``folder`` (never the user's Hugging Face cache), within the
        byte cap; a Hub that cannot be reached raises (that is not "there is no README")."""
        import re
        from pathlib import Path

        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

        with operation(self.bounds):
            try:
                path = Path(self.api.hf_hub_download(repo, "README.md", revision=revision, cache_dir=folder))
            except LocalEntryNotFoundError:
                raise
            except EntryNotFoundError:
                return None, None
        commit = path.parent.name if re.fullmatch(r"[0-9a-f]{40}", path.parent.name) else None  # snapshots/<sha>/
        size = path.stat().st_size
        if self.bounds.max_bytes is not None and size > self.bounds.max_bytes:
            raise _too_large(size, self.bounds.max_bytes)
        return path.read_text("utf-8", errors="replace"), commit

    def commit(self, repo: str, files: dict[str, bytes], message: str, revision: str, create_pr: bool,
               parent_commit: str | None) -> Any:
        """One commit of ``files`` (path in the repo -> content); the Hub refuses it if the branch moved
        since ``parent_commit``."""
        from huggingface_hub import CommitOperationAdd

        with operation(self.bounds):
            return self.api.create_commit(repo, [CommitOperationAdd(p, b) for p, b in files.items()],
                                          commit_message=message, revision=revision, create_pr=create_pr,
                                          parent_commit=parent_commit)

    def create(self, repo: str, private: bool) -> str:
        """Create a model repository (nothing happens if it exists); its address on the Hub in use."""
        with operation(self.bounds):
            self.api.create_repo(repo, private=private, exist_ok=True)
        return repo_url(repo)

    def snapshot(self, repo: str, revision: str | None, local_only: bool) -> str:
        """A repository's files in the local Hugging Face cache (downloaded only when not ``local_only``);
        weights are not capped in size."""
        from huggingface_hub import snapshot_download

        with operation(replace(self.bounds, max_bytes=None)):
            return str(snapshot_download(repo, revision=revision, local_files_only=local_only,
                                         endpoint=os.environ.get("HF_ENDPOINT") or None, token=self.token))


    def files_in(self, repo: str, revision: str | None, folder_in_repo: str, into: str,
                 suffix: str = ".yaml") -> dict[str, str]:
        """The files directly in a folder of a repository (those ending in ``suffix``): path -> text, each
        within the byte cap; {} when the folder is not there. Downloaded into ``into``, never the user's
        Hugging Face cache."""
        from pathlib import Path

        from huggingface_hub import RepoFile
        from huggingface_hub.errors import EntryNotFoundError

        out = {}
        with operation(self.bounds):
            try:
                listed = [f for f in self.api.list_repo_tree(repo, folder_in_repo, revision=revision)
                          if isinstance(f, RepoFile) and f.path.endswith(suffix)]
            except EntryNotFoundError:
                return {}
            for f in listed[:100]:
                if self.bounds.max_bytes is not None and f.size > self.bounds.max_bytes:
                    raise _too_large(f.size, self.bounds.max_bytes)
                path = Path(self.api.hf_hub_download(repo, f.path, revision=revision, cache_dir=into))
                out[f.path] = path.read_text("utf-8", errors="replace")
        return out

    def open_pull_requests(self, repo: str) -> list[tuple[int, str]]:
        """(number, git reference) of each open pull request of a model repository."""
        with operation(self.bounds):
            return [(d.num, d.git_reference or f"refs/pr/{d.num}")
                    for d in self.api.get_repo_discussions(repo, discussion_type="pull_request",
                                                           discussion_status="open")]

    def eval_yaml(self, dataset: str, cache: str) -> str:
        """A benchmark dataset's `eval.yaml`, downloaded into the Hugging Face cache ``cache`` (where
        ``evals.benchmarks`` finds it); its path."""
        with operation(self.bounds):
            return str(self.api.hf_hub_download(dataset, "eval.yaml", repo_type="dataset", cache_dir=cache))


def _too_large(size: int, cap: int) -> Stopped:
    return Stopped(f"the Hub's answer is {size:,} bytes; cardgen reads at most {cap:,}")
