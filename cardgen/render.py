"""Render cards with Jinja2: a base template places the sections, one partial per section.

Partials are looked up in the card's own `templates/` folder, then in the organisation's
`cards/<owner>/_templates/`, then in the package's templates, so that a card or an organisation
can override any partial (or the base template's order) with a file of its own.

Free sections from the sources are placed by ``slot(name)`` before/after the section they name.
Rendering is deterministic: nothing depends on time, locale or dict order.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
import jinja2.runtime

from . import context
from .diagnostics import Diagnostic, error
from .frontmatter import dump
from .resolve import Card, section_text


@lru_cache(maxsize=1)
def package_templates() -> Path:
    here = Path(__file__).parent
    for p in (here / "templates", here.parent / "templates"):
        if (p / "card.md.j2").is_file():
            return p
    raise FileNotFoundError("cardgen's templates folder is missing from the installation")


def _finalize(value):
    if value is None:
        raise jinja2.TemplateError("a template printed None (a missing value)")
    return value


@lru_cache(maxsize=1)
def bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja's own cache of compiled templates (see ``cache``); entries are keyed by the template's
    source, so an edited template is compiled again."""
    import os

    from . import cache

    top = cache.folder()
    if top is None:
        return None
    where = os.path.join(top, f"jinja-{jinja2.__version__}")
    try:
        os.makedirs(where, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(where)


@lru_cache(maxsize=64)
def environment(search: tuple[str, ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(search)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
        auto_reload=False,  # templates do not change during a run: no stat() per lookup
        bytecode_cache=bytecode_cache(),
    )
    return env


@lru_cache(maxsize=1024)
def partial_template(env: jinja2.Environment, name: str) -> jinja2.Template | None:
    """A section's partial, or None when no folder on the search path has one (a section a card's
    own `card.md.j2` names may exist only in some organisations' templates)."""
    try:
        return env.get_template(name)
    except jinja2.TemplateNotFound as e:
        if e.name != name:  # the partial exists but includes a missing file: that is an error
            raise
        return None


def search_path(card: Card) -> tuple[str, ...]:
    return _search_path(card.src.folder, card.model.templates or "templates")


@lru_cache(maxsize=4096)
def _search_path(folder: Path, own_name: str) -> tuple[str, ...]:
    own = folder / own_name
    org = folder.parent / "_templates"
    return tuple(str(p) for p in (own, org) if p.is_dir()) + (str(package_templates()),)


def _render(template: jinja2.Template, variables: dict) -> str:
    """``template.render(variables)`` without copying ``variables`` into a fresh context: a card
    renders a dozen partials from one set of variables (which already holds the globals, so the
    context need not list them: that matters only to a template imported as a module)."""
    try:
        context = jinja2.runtime.Context(template.environment, variables, template.name, template.blocks)
        return "".join(template.root_render_func(context))
    except Exception:
        template.environment.handle_exception()


class RenderError(Exception):
    def __init__(self, diags: list[Diagnostic]):
        super().__init__("; ".join(d.message for d in diags))
        self.diags = diags


@dataclass
class Rendered:
    card: Card
    text: str


def _template_error(card: Card, e: Exception) -> Diagnostic:
    where = ""
    if isinstance(e, jinja2.TemplateSyntaxError):
        where = f" ({e.filename or e.name}:{e.lineno})"
    else:
        import traceback

        for fs in reversed(traceback.extract_tb(e.__traceback__)):
            if fs.filename.endswith(".j2"):
                where = f" ({fs.filename}:{fs.lineno})"
                break
    f, p = card.where()
    return error(f, p, "CG701", f"rendering {card.repo_id} failed: {e}{where}")


def render_body(card: Card, resolver, root: Path) -> str:
    """The markdown body of a card (no front matter). Raises RenderError."""
    env = environment(search_path(card))
    ctx = context.build(card, resolver)
    diags: list[Diagnostic] = []
    free: dict[str, list[tuple[str, object]]] = {}
    for ref in card.sections:
        s = ref.value
        anchor = ("after", s.after) if s.after else ("before", s.before) if s.before else ("after", "footer")
        free.setdefault(f"{anchor[0]}:{anchor[1]}", []).append((s.id, ref))

    def section_md(ref) -> str:
        s = ref.value
        text, d = section_text(ref, root)
        if d:
            diags.append(d)
            text = ""
        parts = []
        if s.heading:
            parts.append(f"{'#' * s.level} {context.fill(s.heading, name=ctx['name'])}")
        body = context.fill(text, name=ctx["name"], repo_id=card.repo_id).strip("\n")
        if body:
            parts.append(body)
        return "\n\n".join(parts)

    def slot(name: str) -> str:
        out = [slot_free("before", name)]
        template = partial_template(env, f"{name}.md.j2")
        if template is not None:
            out.append(_render(template, ctx).strip("\n"))
        out.append(slot_free("after", name))
        text = "\n\n".join(x for x in out if x)
        return text + "\n\n" if text else ""

    def slot_free(where: str, name: str) -> str:
        placed = free.get(f"{where}:{name}")
        if not placed:
            return ""
        out = []
        for sid, ref in placed:
            out.append(slot_free("before", sid) if sid else "")
            out.append(section_md(ref))
            out.append(slot_free("after", sid) if sid else "")
        return "\n\n".join(x.strip("\n") for x in out if x.strip())

    def snippet() -> str:
        u = ctx["usage"]
        return _render(env.get_template(f"snippets/{u['style']}.py.j2"), dict(ctx, u=u)).strip("\n")

    def base_card() -> str:
        if not card.base:
            return ""
        try:
            return render_body(card.base, resolver, root).strip("\n")
        except RenderError as e:  # say which card could not embed it, not only what failed
            raise RenderError(e.diags + [error(*card.where(), "CG701", f"rendering {card.repo_id} failed: "
                                                                    f"its embedded card of {card.base.repo_id} did not render")])

    ctx = {**env.globals, **ctx, "snippet": snippet, "base_card": base_card, "slot": slot}
    try:
        body = _render(env.get_template("card.md.j2"), ctx)
    except RenderError:
        raise
    except Exception as e:  # template errors of every kind: one diagnostic
        raise RenderError([_template_error(card, e)]) from None
    if diags:
        raise RenderError(diags)
    # normalise blank lines: at most one in a row outside code, and one newline at the end
    return _tidy(body)


_BLANK_RUN = re.compile(r"\n[^\S\n]*\n[^\S\n]*\n")  # two blank lines in a row


def _tidy(text: str) -> str:
    """At most one blank line in a row outside fenced code, and one newline at the end."""
    # nothing to fold (the common case, checked in C): trailing newlines go anyway, leading ones count
    if not _BLANK_RUN.search(f"\n{text.rstrip(chr(10))}\n"):
        return text.strip("\n") + "\n"
    return _tidy_lines(text)


def _tidy_lines(text: str) -> str:
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


DIGEST = re.compile(r"\n<!-- cardgen-digest: ([0-9a-f]{16}) -->\n\Z")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def seal(text: str) -> str:
    """Append the digest marker: lets `publish` tell a README cardgen wrote from one edited by hand."""
    return f"{text}\n<!-- cardgen-digest: {_digest(text)} -->\n"


def intact(text: str) -> bool | None:
    """True: as cardgen wrote it; False: edited since; None: no marker (not written by cardgen)."""
    m = DIGEST.search(text)
    if not m:
        return None
    return _digest(text[: m.start()]) == m.group(1)


def render_card(card: Card, resolver, root: Path) -> str:
    """The whole README: front matter, body and the digest marker."""
    from .frontmatter import compute

    env = environment(search_path(card))
    body = render_body(card, resolver, root)
    try:
        fm = env.get_template("front_matter.md.j2").render(front_matter=dump(compute(card)))
    except Exception as e:
        raise RenderError([_template_error(card, e)]) from None
    return seal(fm.rstrip("\n") + "\n\n" + body)
