"""Render resolved cards with Jinja2: a base template places the sections, one partial per section.

Partials are looked up along the card's template search path (its own `templates/` folder, its
organisation's `cards/<owner>/_templates/`, the package's templates), so that a card or an
organisation can override any partial, or the order of sections in `card.md.j2`.

Free sections are placed by ``slot(name)`` before/after the section they name. Rendering takes the
resolved card and the run's cache, nothing else; it is deterministic (no time, locale or dict order).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import tempfile
import traceback
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cardgen.cache import RunCache, folder
from cardgen.card import Card, SectionRef
from cardgen.diagnostics import Collector
from cardgen.files import ours_alone, read_text
from cardgen.frontmatter import dump
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
            cache.partials[key] = env.get_template(name)
        except jinja2.TemplateNotFound as e:
            if e.name != name:  # the partial exists but includes a missing file: that is an error
                raise
            cache.partials[key] = None
    return cache.partials[key]


class _Failed(Exception):
    """A render that has already reported why it failed."""


def _template_error(card: Card, e: Exception) -> str:
    where = ""
    if isinstance(e, jinja2.TemplateSyntaxError):
        where = f" ({e.filename or e.name}:{e.lineno})"
    else:
        for fs in reversed(traceback.extract_tb(e.__traceback__)):
            if fs.filename.endswith(".j2"):
                where = f" ({fs.filename}:{fs.lineno})"
                break
    return f"rendering {card.repo_id} failed: {e}{where}"


def render_body(card: Card, cache: RunCache, report: Collector) -> str | None:
    """The markdown body of a card (no front matter); None when it failed (reported)."""
    try:
        return _body(card, cache, report)
    except _Failed:
        return None


def _body(card: Card, cache: RunCache, report: Collector) -> str:
    search = card.templates
    env = environment(search, cache)
    ctx = template_context.build(card)
    free: dict[str, list[SectionRef]] = {}
    for ref in card.sections:
        s = ref.value
        anchor = f"after:{s.after}" if s.after else f"before:{s.before}" if s.before else "after:footer"
        free.setdefault(anchor, []).append(ref)
    placed: set[int] = set()

    def section_md(ref: SectionRef) -> str:
        s = ref.value
        placed.add(id(ref))
        parts = []
        if s.heading:
            parts.append(f"{'#' * s.level} {literals.fill(s.heading, name=ctx['name'])}")
        body = (ref.text if s.verbatim else literals.fill(ref.text, name=ctx["name"],
                                                                    repo_id=card.repo_id)).strip("\n")
        if body:
            parts.append(body)
        return "\n\n".join(parts)

    def slot(name: str) -> str:
        out = [slot_free("before", name)]
        template = partial(env, search, f"{name}.md.j2", cache)
        if template is not None:
            out.append(template.render(ctx).strip("\n"))
        out.append(slot_free("after", name))
        text = "\n\n".join(x for x in out if x)
        return text + "\n\n" if text else ""

    def slot_free(where: str, name: str) -> str:
        out = []
        for ref in free.get(f"{where}:{name}", ()):
            sid = ref.value.id
            out.append(slot_free("before", sid) if sid else "")
            out.append(section_md(ref))
            out.append(slot_free("after", sid) if sid else "")
        return "\n\n".join(x.strip("\n") for x in out if x.strip())

    def snippet() -> str:
        u = ctx["usage"]
        return env.get_template(f"snippets/{u['style']}.py.j2").render(ctx, u=u).strip("\n")

    def base_card() -> str:
        if not card.base:
            return ""
        body = render_body(card.base, cache, report)
        if body is None:  # say which card could not embed it, not only what failed
            report.error(card.where(), "CG701", f"rendering {card.repo_id} failed: its embedded card of "
                                                f"{card.base.repo_id} did not render")
            raise _Failed
        if card.model.base_card_headings == "as_written":
            return body.strip("\n")
        return demote(body.strip("\n"))  # under the derived card's own title and "Original model card"

    ctx.update(snippet=snippet, base_card=base_card, slot=slot)  # context.RENDER_KEYS: no builder claims them
    try:
        body = env.get_template("card.md.j2").render(ctx)
    except _Failed:
        raise
    except Exception as e:  # template errors of every kind: one diagnostic
        report.error(card.where(), "CG701", _template_error(card, e))
        raise _Failed from None
    lost = [r for r in card.sections if id(r) not in placed]
    for r in lost:  # the rules check anchors against card.md.j2's slots; a template may still skip one
        report.error(r.pos(), "CG308", f"free section {r.value.heading or r.value.id or ''!r} was not placed: "
                                       f"the template did not render the slot it is anchored to")
    if lost:
        raise _Failed
    return tidy(body)


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


def render_card(card: Card, cache: RunCache, report: Collector) -> str | None:
    """The whole README (front matter, body, digest marker); None when it failed (reported)."""
    body = render_body(card, cache, report)
    if body is None:
        return None
    env = environment(card.templates, cache)
    try:
        fm = env.get_template("front_matter.md.j2").render(front_matter=dump(card.front_matter))
    except Exception as e:
        report.error(card.where(), "CG701", _template_error(card, e))
        return None
    return seal(fm.rstrip("\n") + "\n\n" + body)


__all__ = ["environment", "render_body", "render_card", "tidy"]
