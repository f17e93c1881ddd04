"""Render resolved cards with Jinja2: a base template places the sections, one partial per section.

Partials are looked up along the card's template search path (its own `templates/` folder, its
organisation's `cards/<owner>/_templates/`, the package's templates), so that a card or an
organisation can override any partial, or the order of sections in `card.md.j2`.

Free sections are placed by ``slot(name)`` before/after the section they name. Rendering takes the
resolved card and the run's cache, nothing else; it is deterministic (no time, locale or dict order).

cardgen's own code turns the card into a ``Job`` of plain data (the template context, the free sections'
markdown, the embedded base card's body, the front matter's YAML), and the templates run on that alone
(``templates``): here when they are cardgen's own, in ``sandbox``'s worker, within ``CARD_SECONDS`` and
its memory, when the card's search path holds templates from the cards tree (its own, its organisation's),
which are other people's code.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import os
import re
import tempfile
import traceback
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cardgen import sandbox
from cardgen.cache import RunCache, folder
from cardgen.card import Card, SectionRef
from cardgen.diagnostics import Collector, Diagnostic
from cardgen.files import display, ours_alone, read_text
from cardgen.frontmatter import dump
from cardgen.limits import CARD_SECONDS
from cardgen.lint import demote
from cardgen.rendering import context as template_context
from cardgen.rendering import literals
from cardgen.rendering.provenance import seal


def _finalize(value: Any) -> Any:
    if value is None:
        raise jinja2.TemplateError("a template printed None (a missing value)")
    return value


class _SealedBytecodeCache(jinja2.BytecodeCache):
    """Jinja's cache of compiled templates on disk, each entry sealed as the dependency graph's records
    are: an HMAC under this user's key (``cache.key()``) over the entry and the template it is for. An
    entry is compiled code (and Jinja unpickles its header), so one not sealed with that key (planted
    by anyone, this user included; altered; restored from another cache without its key) is never read
    past its seal. Jinja binds each entry to a checksum of the template's source, so an edited template
    is compiled afresh. An entry that cannot be written (a full or read-only disk) is left out."""

    MAX_BYTES = 16 << 20

    def __init__(self, where: str, key: bytes) -> None:
        self.where, self._key = where, key

    def _file(self, bucket: jinja2.bccache.Bucket) -> str:
        return os.path.join(self.where, bucket.key + ".cache")

    def _seal(self, bucket: jinja2.bccache.Bucket, data: bytes) -> bytes:
        return hmac.new(self._key, b"jinja\0" + bucket.key.encode() + b"\0" + data, "sha256").digest()

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            fd = os.open(self._file(bucket), os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f:
                raw = f.read(self.MAX_BYTES + 1)
        except OSError:
            return
        seal, data = raw[:32], raw[32:]
        if len(raw) <= self.MAX_BYTES and hmac.compare_digest(seal, self._seal(bucket, data)):
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = bucket.bytecode_to_string()
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.where, prefix=".entry-", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(self._seal(bucket, data) + data)
            os.replace(tmp, self._file(bucket))
        except OSError:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja's own cache of compiled templates, on disk (see ``cache``), sealed with this user's key; none
    in a folder that is not this user's alone, or without a key."""
    from cardgen.cache import key

    top = folder()
    secret = key() if top is not None else None
    if top is None or secret is None:
        return None
    where = os.path.join(top, f"jinja-{jinja2.__version__}")
    try:
        os.makedirs(where, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return _SealedBytecodeCache(where, secret) if ours_alone(where) else None


class _ConfinedLoader(jinja2.FileSystemLoader):
    """Jinja's file loader, refusing a template whose file (links resolved) is outside its folder, and
    reading it as cardgen reads every file (``files.read_text``: within the size bound, UTF-8)."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        _, filename, uptodate = super().get_source(environment, template)
        real = os.path.realpath(filename)
        if not any(real.startswith(os.path.realpath(folder) + os.sep) for folder in self.searchpath):
            raise jinja2.TemplateError(f"template {template} is a link to {real}, outside its templates folder")
        source, problems = read_text(Path(filename), filename)
        if source is None:
            raise jinja2.TemplateError(f"template {template}: {problems[0].message if problems else 'cannot read'}")
        return source, filename, uptodate


def environment(search: tuple[str, ...], cache: RunCache) -> jinja2.Environment:
    """The Jinja environment of a template search path: sandboxed, whoever wrote the templates (a card
    tree is untrusted input in the job that holds the Hub token): no attribute of Python's internals,
    no calls that change objects; templates see only the values the context gives them."""
    env = cache.environments.get(search)
    if env is None:
        env = cache.environments[search] = ImmutableSandboxedEnvironment(
            loader=_ConfinedLoader(list(search)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=_finalize,
            auto_reload=False,  # templates do not change during a run: no stat() per lookup
            bytecode_cache=_bytecode_cache(),
        )
    return env


def partial(env: jinja2.Environment, search: tuple[str, ...], name: str, cache: RunCache) -> jinja2.Template | None:
    """A section's partial, or None when no folder on the search path has one (a section a card's
    own `card.md.j2` names may exist only in some organisations' templates)."""
    key = (search, name)
    if key not in cache.partials:
        try:
            cache.partials[key] = compiled(env, name)
        except jinja2.TemplateNotFound as e:
            if e.name != name:  # the partial exists but includes a missing file: that is an error
                raise
            cache.partials[key] = None
    return cache.partials[key]


def compiled(env: jinja2.Environment, name: str) -> jinja2.Template:
    """A template, compiled; where Python itself refuses the code (too deeply nested), a template error
    that names it."""
    try:
        return env.get_template(name)
    except sandbox.TimeUp:  # in sandbox's worker, at the limit, while Jinja compiled (and folded constants)
        raise sandbox.OutOfTime(f"ran longer than {CARD_SECONDS:g} s (compiling {name})") from None
    except (jinja2.TemplateError, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - RecursionError, SyntaxError of the generated code
        try:
            where = env.loader.get_source(env, name)[1] if env.loader else name
        except jinja2.TemplateError:
            where = name
        raise jinja2.TemplateError(f"{where} does not compile: {sandbox.reason(e)}") from None


class _Failed(Exception):
    """Raised through the templates by ``base_card`` when the embedded base card did not render."""


def _stopped_at() -> str:
    """Where the templates were when the exception being handled stopped them: `` (in FILE:LINE)``."""
    import sys

    tb, where = sys.exc_info()[2], ""
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            where = f" (in {template.filename}:{template.get_corresponding_lineno(tb.tb_lineno)})"
        tb = tb.tb_next
    return where


def _template_error(repo_id: str, e: Exception) -> str:
    if isinstance(e, MemoryError):
        return f"rendering {repo_id} failed: {sandbox.out_of_memory()}{_where(e)}"
    return f"rendering {repo_id} failed: {sandbox.reason(e)}{_where(e)}"


def _where(e: Exception) -> str:
    where = ""
    if isinstance(e, jinja2.TemplateSyntaxError):
        where = f" ({e.filename or e.name}:{e.lineno})"
    else:
        for fs in reversed(traceback.extract_tb(e.__traceback__)):
            if fs.filename.endswith(".j2"):
                where = f" ({fs.filename}:{fs.lineno})"
                break
    return where


@dataclass
class Job:
    """All that a card's templates are given, as plain data (built here from the card, by cardgen's own
    code): what travels to ``sandbox``'s worker when the templates come from the cards tree."""

    repo_id: str
    search: tuple[str, ...]  # the template search path
    ctx: dict[str, Any]  # the template context (``context.build``)
    free: dict[str, list[tuple[int, str, str]]]  # "after:<slot>" -> (index in card.sections, its id, its markdown)
    base: str | None  # the embedded base card's body ("" for none); None when it did not render
    front_matter: str | None  # the front matter's YAML, where the whole README is wanted


@dataclass
class Done:
    """What a card's templates made of a ``Job``."""

    body: str | None = None
    front: str | None = None  # the rendered front matter
    error: str | None = None  # why the templates failed (CG701)
    placed: set[int] = field(default_factory=set)  # the free sections placed (their indexes)
    base_used: bool = False  # the templates asked for the embedded base card


def render_body(card: Card, cache: RunCache, report: Collector) -> str | None:
    """The markdown body of a card (no front matter); None when it failed (reported)."""
    done = _render(card, cache, report, whole=False)
    return None if done is None else done.body


def render_card(card: Card, cache: RunCache, report: Collector) -> str | None:
    """The whole README (front matter, body, digest marker); None when it failed (reported). A card with
    no front-matter key has no front matter block: an empty one (`---` then `---`) is not front matter to
    huggingface_hub, and the Hub shows it as two rules."""
    done = _render(card, cache, report, whole=True)
    if done is None or done.body is None or done.front is None:
        return None
    front = done.front.rstrip("\n")
    return seal(front + "\n\n" + done.body if front else done.body)


def _render(card: Card, cache: RunCache, report: Collector, whole: bool) -> Done | None:
    """A card's templates run on its ``Job``: here where they are cardgen's own, else in ``sandbox``'s worker,
    within ``CARD_SECONDS`` and the worker's memory (a card whose search path holds templates from the cards
    tree, its own or its organisation's); the problems reported at the card's sources."""
    from cardgen.kinds.chat import ChatTemplateError

    try:
        job, base_problems = _job(card, cache, whole)
    except ChatTemplateError as e:  # its example, shown in the card, cannot be made (CG408, even turned off)
        report.error(card.where(), "CG701", f"rendering {card.repo_id} failed: {e}")
        return None
    folders = [f for f in card.templates[:-1] if cache.files.templates_in(f)]  # the last is cardgen's own
    if not folders:
        done = templates(job, cache)
    else:
        try:
            done = sandbox.call(_apart, job, _run(cache), seconds=CARD_SECONDS)
        except sandbox.Bound as e:
            report.error(card.where(), "CG701", f"rendering {card.repo_id} failed: its templates "
                                                f"({', '.join(display(f) for f in folders)}) {e}")
            return None
    if done.base_used and card.base is not None:
        report.extend(base_problems)
        if job.base is None:  # say which card could not embed it, not only what failed
            report.error(card.where(), "CG701", f"rendering {card.repo_id} failed: its embedded card of "
                                                f"{card.base.repo_id} did not render")
            return None
    if done.error is not None:
        report.error(card.where(), "CG701", done.error)
        return None
    lost = [r for i, r in enumerate(card.sections) if i not in done.placed]
    for r in lost:  # the rules check anchors against card.md.j2's slots; a template may still skip one
        report.error(r.pos(), "CG308", f"free section {r.value.heading or r.value.id or ''!r} was not placed: "
                                       f"the template did not render the slot it is anchored to")
    return None if lost else done


def _job(card: Card, cache: RunCache, whole: bool) -> tuple[Job, list[Diagnostic]]:
    """A card's ``Job``, and the problems of its embedded base card (reported if its templates embed it)."""
    ctx = template_context.build(card)
    free: dict[str, list[tuple[int, str, str]]] = {}
    for i, ref in enumerate(card.sections):
        s = ref.value
        anchor = f"after:{s.after}" if s.after else f"before:{s.before}" if s.before else "after:footer"
        free.setdefault(anchor, []).append((i, s.id or "", section_md(card, ref, ctx["name"])))
    base: str | None = ""
    problems = Collector()
    if card.base is not None:
        body = render_body(card.base, cache, problems)
        base = None if body is None else body.strip("\n") if card.model.base_card_headings == "as_written" else \
            demote(body.strip("\n"))  # under the derived card's own title and "Original model card"
    return Job(card.repo_id, card.templates, ctx, free, base, dump(card.front_matter) if whole else None), \
        problems.diagnostics


def section_md(card: Card, ref: SectionRef, name: str) -> str:
    """A free section's markdown: its heading and its text."""
    s = ref.value
    parts = []
    if s.heading:
        parts.append(f"{'#' * s.level} {literals.fill(s.heading, name=name)}")
    body = (ref.text if s.verbatim else literals.fill(ref.text, name=name, repo_id=card.repo_id)).strip("\n")
    if body:
        parts.append(body)
    return "\n\n".join(parts)


def templates(job: Job, cache: RunCache) -> Done:
    """The card's templates run on its job: the body (tidied) and, where asked, the front matter."""
    env = environment(job.search, cache)
    ctx = dict(job.ctx)
    done = Done()

    def slot(name: str) -> str:
        out = [slot_free("before", name)]
        template = partial(env, job.search, f"{name}.md.j2", cache)
        if template is not None:
            out.append(template.render(ctx).strip("\n"))
        out.append(slot_free("after", name))
        text = "\n\n".join(x for x in out if x)
        return text + "\n\n" if text else ""

    def slot_free(where: str, name: str) -> str:
        out = []
        for i, sid, markdown in job.free.get(f"{where}:{name}", ()):
            out.append(slot_free("before", sid) if sid else "")
            done.placed.add(i)
            out.append(markdown)
            out.append(slot_free("after", sid) if sid else "")
        return "\n\n".join(x.strip("\n") for x in out if x.strip())

    def snippet() -> str:
        u = ctx["usage"]
        return compiled(env, f"snippets/{u['style']}.py.j2").render(ctx, u=u).strip("\n")

    def base_card() -> str:
        done.base_used = True
        if job.base is None:
            raise _Failed
        return job.base

    ctx.update(snippet=snippet, base_card=base_card, slot=slot)  # context.RENDER_KEYS: no builder claims them
    try:
        done.body = tidy(compiled(env, "card.md.j2").render(ctx))
        if job.front_matter is not None and len(done.placed) == sum(map(len, job.free.values())):
            done.front = compiled(env, "front_matter.md.j2").render(front_matter=job.front_matter) \
                if job.front_matter else ""
    except _Failed:  # the embedded base card did not render (``done.base_used`` says so)
        pass
    except sandbox.Bound:
        raise
    except sandbox.TimeUp:  # in sandbox's worker, at the limit: where the templates were
        raise sandbox.OutOfTime(f"ran longer than {CARD_SECONDS:g} s{_stopped_at()}") from None
    except Exception as e:  # template errors of every kind: one diagnostic
        done.error = _template_error(job.repo_id, e)
    return done


_runs: dict[int, int] = {}  # id of a live RunCache -> its number (for the worker's cache of that run)
_numbers = itertools.count(1)
_worker_runs: dict[int, RunCache] = {}  # in the worker: the cache of the run it renders for


def _run(cache: RunCache) -> int:
    key = id(cache)
    if key not in _runs:
        _runs[key] = next(_numbers)
        weakref.finalize(cache, _runs.pop, key, None)
    return _runs[key]


def _apart(job: Job, run: int) -> Done:
    """In sandbox's worker: ``templates`` with a cache of the worker's own for the caller's run."""
    cache = _worker_runs.get(run)
    if cache is None:
        _worker_runs.clear()  # a new run: the templates may have changed since the last
        cache = _worker_runs[run] = RunCache()
    return templates(job, cache)


_BLANK_RUN = re.compile(r"\n[^\S\n]*\n[^\S\n]*\n")  # two blank lines in a row


def tidy(text: str) -> str:
    """At most one blank line in a row outside fenced code, and one newline at the end."""
    # nothing to fold (the common case, checked in C): trailing newlines go anyway, leading ones count
    if not _BLANK_RUN.search(f"\n{text.rstrip(chr(10))}\n"):
        return text.strip("\n") + "\n"
    return tidy_lines(text)


def tidy_lines(text: str) -> str:
    out, blank, fence = [], 0, None
    for line in text.split("\n"):
        stripped = line.lstrip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        elif fence and stripped.startswith(fence):
            fence = None
            out.append(line)
            blank = 0
            continue
        if fence is None and not line.strip():
            blank += 1
            if blank > 1:
                continue
        else:
            blank = 0
        out.append(line)
    return "\n".join(out).strip("\n") + "\n"


__all__ = ["environment", "render_body", "render_card", "tidy"]
