"""Publish rendered cards to the Hub with huggingface_hub: dry-run diffs, pull requests, branches.

For each target (a repository and a branch): render (refusing invalid or stale cards), download
the README on the Hub, skip when identical, refuse to overwrite a README edited on the Hub since
cardgen wrote it (unless --force), then commit with ``HfApi.create_commit``. The token comes from
huggingface_hub's own lookup and is scrubbed from every message.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cardgen.commands.base import DEFAULT_OUT, Command, Common, UsageError
from cardgen.diagnostics import Where, plural, warning
from cardgen.files import committed, readme_path
from cardgen.report import Report

if TYPE_CHECKING:
    from cardgen.pipeline.run import Rendering

# the pipeline and the card format are imported where they are used: the parser imports this module

DEFAULT_MESSAGE = "Update model card (rendered by cardgen)"


@dataclass(frozen=True)
class PublishOptions(Common):
    revision: str | None = None
    variants: bool = False
    create_pr: bool = False
    create: bool = False  # create a repository that does not exist yet
    private: bool = False  # ... as a private one
    message: str | None = None
    dry_run: bool = False
    force: bool = False
    jobs: int | None = 1
    out: Path | None = None  # the committed READMEs to compare with (default: rendered/)
    timeout: float = 20.0  # seconds to connect or to wait for data, per request
    deadline: float = 55.0  # seconds per repository and branch, all requests and retries together
    retry_after_cap: float = 10.0  # the longest `Retry-After` obeyed, in seconds
    max_readme_bytes: int = 10 * 1024 * 1024  # a README on the Hub larger than this is not read


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--revision", help="branch to commit to (default: main, and each variant's branch with --variants)")
    p.add_argument("--variants", action="store_true", help="also publish to each quantisation variant's branch")
    p.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    p.add_argument("--create", action="store_true", help="create a repository that does not exist yet")
    p.add_argument("--private", action="store_true", help="with --create: make the new repository private")
    p.add_argument("--message", help="commit message")
    p.add_argument("--dry-run", action="store_true", help="show the diff against the Hub and change nothing")
    p.add_argument("--force", action="store_true", help="overwrite a README edited on the Hub")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="concurrent requests (default: 1)")
    p.add_argument("--out", type=Path, help="committed READMEs to compare against (default: rendered/)")
    p.add_argument("--timeout", type=float, default=20.0, metavar="S", help="seconds to connect or wait for data, "
                   "per request (default: 20)")
    p.add_argument("--deadline", type=float, default=55.0, metavar="S",
                   help="seconds per repository and branch, retries included (default: 55)")
    p.add_argument("--retry-after-cap", type=float, default=10.0, metavar="S",
                   help="the longest Retry-After the Hub may ask for (default: 10)")
    p.add_argument("--max-readme-bytes", type=int, default=10 * 1024 * 1024, metavar="N",
                   help="a README on the Hub larger than this is not read (default: 10 MiB)")


def options(args: argparse.Namespace, common: dict[str, Any]) -> PublishOptions:
    if args.private and not args.create:
        raise UsageError("--private goes with --create (it sets the visibility of a repository cardgen creates)")
    return PublishOptions(**common, revision=args.revision, variants=args.variants, create_pr=args.create_pr,
                          create=args.create, private=args.private,
                          message=args.message, dry_run=args.dry_run, force=args.force, jobs=max(1, args.jobs),
                          out=args.out, timeout=args.timeout, deadline=args.deadline,
                          retry_after_cap=args.retry_after_cap, max_readme_bytes=args.max_readme_bytes)


def run(opts: PublishOptions) -> tuple[Report, int]:
    from cardgen.console import Progress

    progress = Progress(sys.stderr)
    try:
        return publish(opts, progress)
    finally:
        progress.close()


Status = Literal["published", "pull request", "unchanged", "would publish", "skipped", "failed"]


@dataclass
class Outcome:
    repo: str
    branch: str
    status: Status
    detail: str = ""
    diff: str = ""  # a dry run's unified diff against the README on the Hub
    created: bool = False  # the repository was created (--create)
    results: list[Any] = field(default_factory=list)  # its evaluation results and whether the Hub has them


class Publisher:
    """Compares and commits READMEs through the one Hub client (``cardgen.hub``), under the run's bounds."""

    def __init__(self, opts: PublishOptions, token: str | None, tmp: str) -> None:
        from cardgen.hub import Bounds, Hub

        self.opts = opts
        self.token = token
        self.hub = Hub(Bounds(timeout=opts.timeout, deadline=opts.deadline, retry_after_cap=opts.retry_after_cap,
                              max_bytes=opts.max_readme_bytes), token)
        self.tmp = tmp  # downloads go here; the caller removes it
        self.evals: dict[str, tuple[dict[str, str], bool]] = {}  # repo -> (.eval_results/ files, derived model)
        self.unread: list[tuple[str, str]] = []  # (repo@branch, why): results files on the Hub that do not parse

    def explain(self, e: Exception, repo: str, branch: str, attempt: str) -> str:
        from cardgen.hub import explain

        return explain(e, repo, branch, attempt, self.token)

    def remote(self, repo: str, branch: str, fresh: str = "") -> tuple[str | None, str | None]:
        """(the README on the Hub or None, the commit it was read at, when known)."""
        # a folder named by a hash: no repo or branch name becomes a path (a `../` branch cannot escape)
        where = Path(self.tmp) / hashlib.sha256(f"{repo}@{branch}{fresh}".encode()).hexdigest()[:16]
        return self.hub.readme(repo, branch, str(where))

    def one(self, repo: str, branch: str, text: str) -> Outcome:
        """One target, its reads and its commit within one deadline."""
        from cardgen.hub import operation

        with operation(self.hub.bounds):
            return self._one(repo, branch, text)

    def _one(self, repo: str, branch: str, text: str) -> Outcome:
        from cardgen.hub import repo_missing

        created = False
        try:
            remote, seen_at = self.remote(repo, branch)
        except Exception as e:  # noqa: BLE001 - every failure becomes one line
            why = self.explain(e, repo, branch, "reading the README")
            if not repo_missing(e):
                return Outcome(repo, branch, "failed", why)
            if not self.opts.create:
                return Outcome(repo, branch, "failed", f"{why}; to create it, publish with --create "
                                                       "(and --private for a private repository)")
            if self.opts.dry_run:
                from cardgen.pipeline.drift import unified

                return Outcome(repo, branch, "would publish", "a new repository, created by --create",
                               unified("", text, f"{repo}@{branch}/README.md"))
            try:
                self.hub.create(repo, self.opts.private)
            except Exception as e:  # noqa: BLE001
                return Outcome(repo, branch, "failed", self.explain(e, repo, branch, "creating the repository"))
            remote, seen_at, created = None, None, True
        try:
            listed, files = self.results(repo, branch)
        except Exception as e:  # noqa: BLE001
            return Outcome(repo, branch, "failed", self.explain(e, repo, branch, "reading its evaluation results"))
        if remote == text and not files:
            return Outcome(repo, branch, "unchanged", results=listed)
        refused = None if remote is None or remote == text or self.opts.force else self.refusal(repo, remote)
        if refused:
            return Outcome(repo, branch, "skipped", refused, results=listed)
        if self.opts.dry_run:
            from cardgen.pipeline.drift import unified

            detail = "new README" if remote is None else "" if remote != text else "evaluation results only"
            diff = unified(remote, text, f"{repo}@{branch}/README.md") if remote != text else ""
            return Outcome(repo, branch, "would publish", detail, diff, results=listed)
        outcome = self.commit(repo, branch, text if remote != text else None, seen_at, files)
        outcome.results = listed
        if created:
            from cardgen.hub import repo_url

            outcome.created = True
            visibility = "private" if self.opts.private else "public"
            outcome.detail = f"created ({visibility}) {repo_url(repo)}" + (f"; {outcome.detail}" if outcome.detail
                                                                           else "")
        return outcome

    def results(self, repo: str, branch: str) -> tuple[list[Any], dict[str, str]]:
        """The card's evaluation results against the `.eval_results/` of the target and its open pull
        requests (``cardgen.evals.published``): (each and its state, the files to commit)."""
        files, derived = self.evals.get(repo, ({}, False))
        if not files or branch != (self.opts.revision or "main"):
            return [], {}
        from cardgen.evals.published import compare, on_the_hub

        where = Path(self.tmp) / hashlib.sha256(f"{repo}@{branch}:evals".encode()).hexdigest()[:16]
        target, prs = on_the_hub(self.hub, repo, branch, str(where))
        problems: list[str] = []
        found = compare(files, target, prs, branch, derived, problems)
        self.unread += [(f"{repo}@{branch}", p) for p in problems]
        return found

    @staticmethod
    def refusal(repo: str, remote: str) -> str | None:
        """Why a README on the Hub must not be replaced without --force: edited since, or not cardgen's."""
        from cardgen.rendering.provenance import intact

        state = intact(remote)
        if state is False:
            return ("the README on the Hub was edited since cardgen published it; merge the edit into the sources "
                    f"(`cardgen import {repo} --merge`), or use --force")
        if state is None:
            return "the README on the Hub was not written by cardgen; use --force to replace it"
        return None

    def commit(self, repo: str, branch: str, text: str | None, seen_at: str | None,
               extra: dict[str, str] | None = None) -> Outcome:
        from cardgen.hub import answer_lost, commit_url, discussion_url, status

        a = self.opts
        files = {p: t.encode("utf-8") for p, t in {**({"README.md": text} if text is not None else {}),
                                                   **(extra or {})}.items()}
        try:
            # the Hub refuses the commit if the branch moved since the README was compared
            info = self.hub.commit(repo, files, a.message or DEFAULT_MESSAGE, branch, a.create_pr, seen_at)
        except Exception as e:  # noqa: BLE001
            if status(e) in (409, 412):
                return Outcome(repo, branch, "skipped", "edited on the Hub since it was compared: the branch moved "
                                                        "between the download and the commit, and nothing was "
                                                        "overwritten; run again (with --dry-run to see the edit)")
            why = self.explain(e, repo, branch, "committing the README")
            if not a.create_pr and answer_lost(e) and text is not None and self.stored(repo, branch, text):
                return Outcome(repo, branch, "published", f"the Hub's answer was lost ({why}), but the README "
                                                          "it now holds is this one")
            return Outcome(repo, branch, "failed", why)
        if a.create_pr:  # the addresses on the Hub in use (HF_ENDPOINT), whatever the answer spelt
            return Outcome(repo, branch, "pull request", "opened " + (
                discussion_url(repo, info.pr_num) if info.pr_num is not None else info.pr_url or "(no address)"))
        return Outcome(repo, branch, "published", commit_url(repo, info.oid) if info.oid else info.commit_url or "")

    def stored(self, repo: str, branch: str, text: str) -> bool:
        """Whether the README on the Hub is now ``text`` (read afresh)."""
        try:
            return self.remote(repo, branch, fresh=":after-commit")[0] == text
        except Exception:  # noqa: BLE001 - still unknown: reported as the failure it was
            return False


def targets(rendering: Rendering, opts: PublishOptions) -> list[tuple[str, str]]:
    from cardgen.schema import branches

    out = []
    for repo in sorted(rendering.texts):
        out.append((repo, opts.revision or "main"))
        q = rendering.cards[repo].model.quantization
        if opts.variants and q and not opts.revision:
            out += [(repo, b) for b in branches(q) if b != "main"]
    return out


def publish(opts: PublishOptions, progress: Callable[..., None]) -> tuple[Report, int]:
    """Render, compare with the Hub, and commit (or show the diffs); the report and the exit code."""
    from huggingface_hub import get_token

    from cardgen.loading.scope import select
    from cardgen.pipeline.publishable import refusals
    from cardgen.pipeline.run import render_all

    rendering = render_all(select(list(opts.paths)), policy=opts.policy)
    report = Report("publish", rendering.diagnostics)
    outcomes = [Outcome(r, opts.revision or "main", "skipped", "fails validation or rendering (see above)")
                for r in rendering.failed]
    committed_folder = opts.out or DEFAULT_OUT
    texts = dict(rendering.texts)
    for repo, why in refusals(rendering, opts.strict).items():  # placeholders: whatever the flags
        outcomes.append(Outcome(repo, opts.revision or "main", "skipped", why))
        del texts[repo]
    for repo, text in list(texts.items()):
        p = readme_path(committed_folder, repo)
        if p.is_file() and committed(p) != text:
            outcomes.append(Outcome(repo, opts.revision or "main", "skipped",
                                    f"{p} differs from its sources (`cardgen check`); run `cardgen render` first"))
            del texts[repo]
    rendering.texts = texts
    token = get_token()
    if token is None and not opts.dry_run:
        report.notes.append("cardgen: error: no Hugging Face token: set HF_TOKEN or run `hf auth login`")
        return report, 1
    todo = targets(rendering, opts)
    interrupted = threading.Event()
    # a worker still waiting past its deadline may yet write there: its removal does not fail for that
    with tempfile.TemporaryDirectory(prefix="cardgen-publish-", ignore_cleanup_errors=True) as tmp:
        pub = Publisher(opts, token, tmp)
        pub.evals = {repo: (rendering.extras[repo], bool(rendering.cards[repo].model.base_model))
                     for repo in texts if rendering.extras.get(repo)}
        with _first_interrupt_stops(interrupted, progress):
            outcomes += _run_all(pub, todo, texts, opts, interrupted, progress)
    report.diagnostics += [warning(Where(target), "CG657", f"{why} (compared as if absent)")
                           for target, why in pub.unread]
    if interrupted.is_set():
        report.notes.append("interrupted: the targets not started were skipped")
    report.checked = plural(len(outcomes), "target")
    report.results = outcomes
    report.lines = [o.diff for o in outcomes if o.diff] + [x.line(f"{o.repo}@{o.branch}") for o in outcomes
                                                           for x in o.results] + [summary(outcomes)]
    report.failures = {k: sum(o.status == k for o in outcomes) for k in ("failed", "skipped")}
    if any(x.derived for o in outcomes for x in o.results):
        from cardgen.evals.published import DERIVED

        report.notes.append(DERIVED)
    if interrupted.is_set():
        return report, 130
    return report, int(any(o.status in ("failed", "skipped") for o in outcomes))


def _run_all(pub: Publisher, todo: list[tuple[str, str]], texts: dict[str, str], opts: PublishOptions,
             interrupted: threading.Event, progress: Callable[..., None]) -> list[Outcome]:
    """Each target in a worker thread, under a deadline per target; none started once interrupted.

    The workers are daemon threads: once the summary is written the process ends, even where a request
    is stuck beyond the client's reach (a name lookup, headers that trickle in). A pool's threads would be
    joined at exit, keeping the process alive for as long as the Hub keeps them."""
    futures: list[Future[Outcome]] = [Future() for _ in todo]
    pending = list(zip(todo, futures, strict=True))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                (repo, branch), future = pending.pop(0)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(Outcome(repo, branch, "skipped", "interrupted before it started")
                                  if interrupted.is_set() else pub.one(repo, branch, texts[repo]))
            except BaseException as e:  # noqa: BLE001 - raised where the outcome is read
                future.set_exception(e)

    for _ in range(min(max(1, opts.jobs or 1), len(todo))):
        threading.Thread(target=worker, name="cardgen-publish", daemon=True).start()
    outcomes = []
    for done, ((repo, branch), future) in enumerate(zip(todo, futures, strict=True), 1):
        started = time.monotonic()
        while True:  # wait in short steps, so that a Ctrl-C is seen at once
            try:
                o = future.result(timeout=0.2)
                break
            except FutureTimeout:
                if interrupted.is_set() and not future.running():
                    future.cancel()
                if future.cancelled():
                    o = Outcome(repo, branch, "skipped", "interrupted before it started")
                    break
                if time.monotonic() - started > opts.deadline:
                    o = Outcome(repo, branch, "failed", f"no answer from the Hub within {opts.deadline:g} s; "
                                                        "it may or may not have been updated")
                    break
        progress(f"[{done}/{len(todo)}] {repo}@{branch}: {o.status}{' - ' + o.detail if o.detail else ''}",
                 done=done, total=len(todo))
        outcomes.append(o)
    for future in futures:  # the targets not started are not started; a request still hung ends at its deadline
        future.cancel()
    return outcomes


@contextlib.contextmanager
def _first_interrupt_stops(flag: threading.Event, progress: Callable[..., None]) -> Iterator[None]:
    """The first Ctrl-C sets ``flag`` (no new target starts, the summary is printed); the second
    interrupts as usual (exit 130)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()
        progress("stopping: no new repository is started; Ctrl-C again to quit at once")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def summary(outcomes: list[Outcome]) -> str:
    rows = [("repository", "branch", "status", "detail")] + [(o.repo, o.branch, o.status, o.detail) for o in outcomes]
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]}".rstrip() for r in rows]
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    order = ("published", "pull request", "would publish", "unchanged", "skipped", "failed")
    optional = ("pull request", "would publish")
    created = sum(o.created for o in outcomes)
    lines.append(", ".join(f"{k}: {counts.get(k, 0)}" for k in order if k in counts or k not in optional)
                 + (f" ({created} created)" if created else ""))
    return "\n".join(lines)


COMMANDS = (Command("publish", "upload rendered cards to the Hub", "cardgen publish --dry-run --format json", arguments,
                    options, run),)
