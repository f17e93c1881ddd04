"""Publish rendered cards to the Hub with huggingface_hub: dry-run diffs, pull requests, branches.

For each target (a repository and a branch): render (refusing invalid or stale cards), download
the README on the Hub, skip when identical, refuse to overwrite a README edited on the Hub since
cardgen wrote it (unless --force), then commit with ``HfApi.create_commit``. The token comes from
huggingface_hub's own lookup and is scrubbed from every message.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from .diagnostics import Report, plural
from .files import readme_path
from .options import DEFAULT_OUT, PublishOptions
from .pipeline import Rendering, render_all, unified
from .provenance import intact
from .scope import select

DEFAULT_MESSAGE = "Update model card (rendered by cardgen)"


Status = Literal["published", "unchanged", "would publish", "skipped", "failed"]


@dataclass
class Outcome:
    repo: str
    branch: str
    status: Status
    detail: str = ""
    diff: str = ""  # a dry run's unified diff against the README on the Hub


class Publisher:
    def __init__(self, opts: PublishOptions, token: str | None, tmp: str) -> None:
        from huggingface_hub import HfApi
        from huggingface_hub.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # retries and warnings: our one line per target says it

        self.opts = opts
        self.token = token
        self.endpoint = os.environ.get("HF_ENDPOINT") or None
        self.api = HfApi(endpoint=self.endpoint, token=token)
        self.tmp = tmp  # downloads go here; the caller removes it
        self.lock = threading.Lock()

    def scrub(self, text: str) -> str:
        if self.token:
            text = text.replace(self.token, "***")
        return text

    def remote_readme(self, repo: str, branch: str) -> str | None:
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

        try:
            # a folder named by a hash: no repo or branch name becomes a path (a `../` branch cannot escape)
            where = Path(self.tmp) / hashlib.sha256(f"{repo}@{branch}".encode()).hexdigest()[:16]
            path = self.api.hf_hub_download(repo, "README.md", revision=branch, cache_dir=where)
        except LocalEntryNotFoundError:  # the Hub could not be reached: not "there is no README"
            raise
        except EntryNotFoundError:  # the Hub says the repository has no README.md
            return None
        return Path(path).read_text("utf-8")

    def one(self, repo: str, branch: str, text: str) -> Outcome:
        a = self.opts
        try:
            remote = self.remote_readme(repo, branch)
        except Exception as e:  # noqa: BLE001 - every failure becomes one line
            return Outcome(repo, branch, "failed", self.explain(e, repo, branch))
        if remote == text:
            return Outcome(repo, branch, "unchanged")
        if remote is not None and not a.force:
            state = intact(remote)
            if state is False:
                return Outcome(repo, branch, "skipped", "the README on the Hub was edited since cardgen published it; "
                                                        "merge the edit into the sources, or use --force")
            if state is None:
                return Outcome(repo, branch, "skipped", "the README on the Hub was not written by cardgen; "
                                                        "use --force to replace it")
        if a.dry_run:
            return Outcome(repo, branch, "would publish", "new README" if remote is None else "",
                           unified(remote, text, f"{repo}@{branch}/README.md"))
        from huggingface_hub import CommitOperationAdd

        try:
            info = self.api.create_commit(
                repo, [CommitOperationAdd("README.md", text.encode("utf-8"))],
                commit_message=a.message or DEFAULT_MESSAGE, revision=branch, create_pr=a.create_pr)
        except Exception as e:  # noqa: BLE001
            return Outcome(repo, branch, "failed", self.explain(e, repo, branch))
        return Outcome(repo, branch, "published", (info.pr_url if a.create_pr else info.commit_url) or "")

    def explain(self, e: Exception, repo: str, branch: str) -> str:
        """One clear line for a failure, never the token."""
        from huggingface_hub.errors import HfHubHTTPError, RevisionNotFoundError

        where = f"{repo}@{branch}"
        resp = getattr(e, "response", None)
        code = getattr(resp, "status_code", None)
        if isinstance(e, RevisionNotFoundError):
            msg = f"branch {branch!r} does not exist in {repo}"
        elif code == 401:
            msg = "authentication failed (401): set HF_TOKEN or run `hf auth login` with a valid token"
        elif code == 403:
            msg = f"permission denied (403): the token cannot write to {repo}"
        elif code == 404:
            msg = f"not found (404): {where} does not exist or the token cannot see it"
        elif code == 429:
            msg = "rate limited by the Hub (429): try again later or lower --jobs"
        elif code is not None and code >= 500:
            msg = f"the Hub answered {code}: try again later"
        elif isinstance(e, HfHubHTTPError):
            msg = f"the Hub refused the request ({code}): {str(e).splitlines()[0]}"
        elif isinstance(e, ValueError) and "metadata" in str(e):
            msg = "the Hub refused the front matter: " + " ".join(str(e).split())
        elif _is_network(e):
            msg = f"network error reaching {self.endpoint or 'the Hub'}: {type(e).__name__}"
        else:
            msg = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return self.scrub(msg)


def _is_network(e: Exception) -> bool:
    names = {c.__name__ for c in type(e).__mro__}
    return bool(names & {"ConnectError", "ConnectionError", "TimeoutException", "NetworkError", "ReadTimeout",
                         "ConnectTimeout", "OfflineModeIsEnabled", "LocalEntryNotFoundError"})


def targets(rendering: Rendering, opts: PublishOptions) -> list[tuple[str, str]]:
    out = []
    for repo in sorted(rendering.texts):
        out.append((repo, opts.revision or "main"))
        q = rendering.cards[repo].model.quantization
        if opts.variants and q and not opts.revision:
            out += [(repo, v.branch) for v in q.variants if v.branch != "main"]
    return out


def publish(opts: PublishOptions, progress: Callable[[str], None]) -> tuple[Report, int]:
    """Render, compare with the Hub, and commit (or show the diffs); the report and the exit code."""
    from huggingface_hub import get_token

    rendering = render_all(select(list(opts.paths)), policy=opts.policy)
    report = Report("publish", rendering.diagnostics)
    outcomes = [Outcome(r, opts.revision or "main", "skipped", "fails validation or rendering (see above)")
                for r in rendering.failed]
    committed = opts.out or DEFAULT_OUT
    texts = dict(rendering.texts)
    for repo, text in list(texts.items()):
        p = readme_path(committed, repo)
        if p.is_file() and p.read_text("utf-8") != text:
            outcomes.append(Outcome(repo, opts.revision or "main", "skipped",
                                    f"{p} differs from its sources (`cardgen check`); run `cardgen render` first"))
            del texts[repo]
    rendering.texts = texts
    token = get_token()
    if token is None and not opts.dry_run:
        report.notes.append("cardgen: error: no Hugging Face token: set HF_TOKEN or run `hf auth login`")
        return report, 1
    todo = targets(rendering, opts)
    done = 0

    def run(target: tuple[str, str]) -> Outcome:
        nonlocal done
        repo, branch = target
        o = pub.one(repo, branch, texts[repo])
        with pub.lock:
            done += 1
            progress(f"[{done}/{len(todo)}] {repo}@{branch}: {o.status}{' - ' + o.detail if o.detail else ''}")
        return o

    with tempfile.TemporaryDirectory(prefix="cardgen-publish-") as tmp:
        pub = Publisher(opts, token, tmp)
        with ThreadPoolExecutor(max_workers=max(1, opts.jobs or 1)) as pool:
            outcomes += list(pool.map(run, todo))
    report.checked = plural(len(outcomes), "target")
    report.results = [asdict(o) for o in outcomes]
    report.lines = [o.diff for o in outcomes if o.diff] + [summary(outcomes)]
    return report, int(any(o.status in ("failed", "skipped") for o in outcomes))


def summary(outcomes: list[Outcome]) -> str:
    rows = [("repository", "branch", "status", "detail")] + [(o.repo, o.branch, o.status, o.detail) for o in outcomes]
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]}".rstrip() for r in rows]
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    order = ("published", "would publish", "unchanged", "skipped", "failed")
    lines.append(", ".join(f"{k}: {counts.get(k, 0)}" for k in order if k in counts or k != "would publish"))
    return "\n".join(lines)
