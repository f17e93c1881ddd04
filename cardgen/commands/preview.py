"""`cardgen preview`: each card as the Hub shows a model page, in HTML.

The README is rendered as `cardgen render` renders it; its body becomes HTML with markdown-it-py
(CommonMark, tables, strikethrough), raw HTML in it kept but sanitised with nh3 (as the Hub does, so
a card under review cannot run script in the reviewer's browser); its front matter becomes the side
panel (licence, task, library, languages, datasets, the base-model tree, tags, evaluation results,
emissions). Pages are made from Jinja templates (`templates/preview/`, autoescaped).

A card under review is other people's text, so a page of it runs none of it: links (in the body and the
side panel) are http(s), mailto or relative, anything else shown as text; no `style` attribute survives
(table alignment becomes `align`); each page's Content-Security-Policy allows its own style sheet and, when
served, its own reload script, and nothing else (no other script, no `javascript:` link, no inline style).

`--html DIR` writes one page per card and an index; without it, the pages are served on 127.0.0.1
(``preview_server``: only to requests naming 127.0.0.1 or localhost, from a bounded pool of threads) and
re-rendered when a source changes (each page polls `/__version` and reloads). A card that does not render
gets a page listing why, and so does a page that does not exist.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from cardgen import hubspec
from cardgen.commands.base import Command, Common
from cardgen.diagnostics import Diagnostic, plural
from cardgen.files import atomic_write, inside
from cardgen.report import Report

if TYPE_CHECKING:
    from cardgen.commands.preview_server import LoopbackServer
    from cardgen.pipeline.run import Rendering

#: the schemes a link of a page may have (a URL without one is relative); the rule CG222 checks at validation
LINK_SCHEMES = frozenset({"http", "https", "mailto"})


@dataclass(frozen=True)
class Entry:
    text: str
    href: str | None = None
    tag: bool = False


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def is_link(url: object) -> bool:
    """Whether a page may make ``url`` a link: http(s), mailto, or relative (as a browser reads it)."""
    from cardgen.rules.metadata import url_scheme

    return isinstance(url, str) and url_scheme(url) in LINK_SCHEMES | {None}


@lru_cache(maxsize=1)
def _pages() -> Any:
    from jinja2 import FileSystemLoader, select_autoescape
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from cardgen.sections import package_templates

    env = ImmutableSandboxedEnvironment(loader=FileSystemLoader(str(package_templates() / "preview")),
                                        autoescape=select_autoescape(default=True), trim_blocks=True,
                                        lstrip_blocks=True)
    env.tests["link"] = is_link  # `{% if href is link %}`: any other href is shown as text
    return env


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str]:
    """The pages' style sheet and the served pages' reload script (cardgen's own files)."""
    from cardgen.sections import package_templates

    folder = package_templates() / "preview"
    return tuple(  # type: ignore[return-value]
        (folder / name).read_text("utf-8").strip() for name in ("preview.css.j2", "reload.js.j2"))


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _render(template: str, live: bool, **values: Any) -> str:
    """A page: its style sheet inline, the reload script when served, and a policy allowing those alone."""
    from markupsafe import Markup

    css, script = _assets()
    scripts = _sha256(script) if live else "'none'"
    csp = (f"default-src 'none'; style-src {_sha256(css)}; script-src {scripts}; img-src http: https: data:; "
           "connect-src 'self'; base-uri 'none'; form-action 'none'")
    return str(_pages().get_template(template).render(css=Markup(css), script=Markup(script), csp=csp, live=live,
                                                       **values))


_ALIGN = re.compile(r"text-align:(left|center|right)")


def body_html(markdown: str) -> str:
    """The card body as the Hub shows it: markdown-it-py's HTML, sanitised by nh3 (links and images
    http(s), mailto or relative; no `style`: markdown-it's table alignment becomes `align`)."""
    import nh3

    md = _markdown()
    tokens = md.parse(markdown)
    for t in tokens:
        if t.type in ("th_open", "td_open") and "style" in t.attrs:
            m = _ALIGN.fullmatch(str(t.attrs.pop("style")))
            if m:
                t.attrs["align"] = m.group(1)
    html = md.renderer.render(tokens, md.options, {})
    tags = set(nh3.ALLOWED_TAGS) | {"details", "summary", "table", "thead", "tbody", "tr", "th", "td", "del"}
    attributes = {k: set(v) - {"style", "cite"} for k, v in nh3.ALLOWED_ATTRIBUTES.items()}  # `cite`: a URL unseen
    attributes.setdefault("a", set()).update({"href", "title"})
    return str(nh3.clean(html, tags=tags, attributes=attributes, url_schemes=set(LINK_SCHEMES)))


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [] if v is None else [v]


Metas = dict[str, dict[str, Any]]  # the front matter of each card of the run, by repo id


def side_panel(meta: dict[str, Any], metas: Metas) -> list[tuple[str, list[Entry]]]:
    """The Hub's side panel of a model page, from its front matter (and its bases', when in the run)."""
    out: list[tuple[str, list[Entry]]] = []
    for heading, entries in PANEL:
        found = entries(meta, metas)
        if found is not None:
            out.append((heading, found))
    return out


# Each entry of the panel: its entries from the front matter, or None when the page shows no such entry.
def _license(meta: dict[str, Any], metas: Metas) -> list[Entry] | None:
    lic = meta.get("license")
    if not isinstance(lic, str):
        return None
    name = meta.get("license_name") if lic == "other" else hubspec.licenses().get(lic, lic)
    return [Entry(str(name or lic), meta.get("license_link") if lic == "other" else None)]


def _task(meta: dict[str, Any], metas: Metas) -> list[Entry] | None:
    task = meta.get("pipeline_tag")
    if not isinstance(task, str):
        return None
    return [Entry(hubspec.pipeline_tags().get(task, task), f"https://huggingface.co/models?pipeline_tag={task}")]


def _library(meta: dict[str, Any], metas: Metas) -> list[Entry] | None:
    lib = meta.get("library_name")
    return [Entry(hubspec.library_names().get(lib, lib))] if isinstance(lib, str) else None


def _strings(meta: dict[str, Any], key: str) -> list[str]:
    return [x for x in _as_list(meta.get(key)) if isinstance(x, str)]


def _languages(meta: dict[str, Any], metas: Metas) -> list[Entry] | None:
    langs = _strings(meta, "language")
    return [Entry(hubspec.languages().get(code, code), tag=True) for code in langs] or None


def _datasets(meta: dict[str, Any], metas: Metas) -> list[Entry] | None:
    return [Entry(d, f"https://huggingface.co/datasets/{d}", tag=True) for d in _strings(meta, "datasets")] or None


def _tree(meta: dict[str, Any], metas: Metas) -> list[Entry] | None:
    return base_tree(meta, metas) or None


def _tags(meta: dict[str, Any], metas: Metas) -> list[Entry] | None:
    return [Entry(t, tag=True) for t in _strings(meta, "tags")] or None


def _evaluation(meta: dict[str, Any], metas: Metas) -> list[Entry] | None:
    index = meta.get("model-index")
    if not (isinstance(index, list) and index and isinstance(index[0], dict)):
        return None
    results = [m for r in index[0].get("results") or [] if isinstance(r, dict)
               for m in r.get("metrics") or [] if isinstance(m, dict)]
    return [Entry(f"{m.get('name') or m.get('type')}: {m.get('value')}", tag=True) for m in results]


def _emissions(meta: dict[str, Any], metas: Metas) -> list[Entry] | None:
    co2 = meta.get("co2_eq_emissions")
    if co2 is None:
        return None
    grams = co2.get("emissions") if isinstance(co2, dict) else co2
    return [Entry(f"{grams} g CO₂eq")]


#: the panel's headings in the Hub's order, each with what gives its entries
PANEL: list[tuple[str, Callable[[dict[str, Any], Metas], list[Entry] | None]]] = [
    ("License", _license), ("Task", _task), ("Library", _library), ("Languages", _languages),
    ("Datasets", _datasets), ("Model tree", _tree), ("Tags", _tags), ("Evaluation results", _evaluation),
    ("Carbon emissions", _emissions),
]


RELATIONS = {"quantized": "Quantized from", "finetune": "Fine-tuned from", "adapter": "Adapter of",
             "merge": "Merged from"}


def base_tree(meta: dict[str, Any], metas: dict[str, dict[str, Any]], depth: int = 0) -> list[Entry]:
    """This model's bases, and theirs where they are cards of this run: the Hub's model tree."""
    bases = [b for b in _as_list(meta.get("base_model")) if isinstance(b, str)]
    if not bases or depth > 8:
        return []
    rel = RELATIONS.get(str(meta.get("base_model_relation")), "Based on")
    out = []
    for b in bases:
        out.append(Entry(f"{'  ' * depth}{rel} {b}", f"https://huggingface.co/{b}"))
        if b in metas:
            out += base_tree(metas[b], metas, depth + 1)
    return out


def page(repo_id: str, readme: str, metas: dict[str, dict[str, Any]], problems: list[str], live: bool,
         index_href: str) -> str:
    from cardgen.frontmatter import mapping, split

    fm, body, _ = split(readme)
    meta = metas.get(repo_id) or mapping(fm)
    return _render("page.html.j2", live, repo_id=repo_id, body=_safe(body_html(body)), panel=side_panel(meta, metas),
                   problems=problems, index_href=index_href)


def problem_page(title: str, why: str, problems: list[str], live: bool, index_href: str, note: str = "") -> str:
    """A page saying why there is no card to show: the diagnostics that stopped it."""
    return _render("problem.html.j2", live, title=title, why=why, problems=problems, note=note,
                   index_href=index_href)


def _safe(html: str) -> Any:
    from markupsafe import Markup

    return Markup(html)  # noqa: S704 - sanitised by nh3 just before


def _failed_problems(repo: str, diagnostics: list[Diagnostic]) -> tuple[list[Diagnostic], str]:
    """The diagnostics of a card that did not render: those written in its folder (`<owner>/<name>/`) or
    naming it; when no error is among them (a suite's folder, a shared file), every error of the run too,
    saying so. (The run keeps no card's files for a card it did not render.)"""
    mine = [d for d in diagnostics if repo in d.message or f"/{repo}/" in "/" + d.file.replace("\\", "/")]
    if any(d.severity == "error" for d in mine):
        return mine, ""
    others = [d for d in diagnostics if d.severity == "error" and d not in mine]
    return mine + others, "(with every error of this run: which of them stopped this card cannot be told here)"


def site(rendering: Rendering, live: bool = False) -> dict[str, str]:
    """Every page of a rendering: `index.html` and `<owner>/<name>.html`, a card that did not render
    included (its page lists why)."""
    from cardgen.frontmatter import mapping, split

    metas = {repo: mapping(split(text)[0]) for repo, text in rendering.texts.items()}
    problems: dict[str, list[str]] = {}
    for d in rendering.diagnostics:
        for repo in rendering.texts:
            if d.severity == "warning" and rendering.where.get(repo, ("",))[0] == d.file:
                problems.setdefault(repo, []).append(f"{d.code} {d.message}")
    pages = {f"{repo}.html": page(repo, text, metas, problems.get(repo, []), live, "../index.html")
             for repo, text in sorted(rendering.texts.items())}
    failed = []
    for repo in sorted(set(rendering.failed)):
        named = hubspec.repo_id_problem(repo) is None  # a page only where the repo id makes a safe file name
        failed.append({"repo_id": repo, "href": f"{repo}.html" if named else None})
        if named:
            found, note = _failed_problems(repo, rendering.diagnostics)
            pages[f"{repo}.html"] = problem_page(repo, "This card was not rendered: fix these and it will be.",
                                                 [d.text() for d in found], live, "../index.html", note)
    cards = [{"repo_id": repo, "href": f"{repo}.html", "task": metas[repo].get("pipeline_tag")}
             for repo in sorted(rendering.texts)]
    errors = [d.text() for d in rendering.diagnostics if d.severity == "error"]
    pages["index.html"] = _render("index.html.j2", live, cards=cards, failed=failed, errors=errors)
    return pages


def write_site(paths: list[Path], out: Path, policy: Any = None) -> tuple[Report, int]:
    from cardgen.loading.scope import select
    from cardgen.pipeline.run import render_all

    report = Report("preview")
    rendering = render_all(select(paths), policy=policy)
    report.diagnostics = rendering.diagnostics
    for name, html in site(rendering).items():
        target = out / name
        if not inside(target, out):
            continue  # never outside the folder asked for (repo ids are checked before: this is a net)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, html)
    report.checked = plural(len(rendering.texts), "card")
    report.lines = [f"written   {out / 'index.html'} and {plural(len(rendering.texts), 'page')}"]
    return report, int(bool(rendering.failed))


class LiveSite:
    """The pages of a cards folder, rendered again when one of its source files changes."""

    def __init__(self, paths: list[Path], policy: Any = None) -> None:
        self.paths, self.policy = paths, policy
        self.lock = threading.Lock()
        self.version = ""
        self.pages: dict[str, str] = {}
        self.errors: list[str] = []  # the last run's errors, for a page that is not there

    def stamp(self) -> str:
        h = hashlib.sha256()
        for root in self.paths:
            files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
            for p in files:
                try:
                    st = p.stat()
                except OSError:
                    continue
                h.update(f"{p}\0{st.st_mtime_ns}\0{st.st_size}\n".encode())
        return h.hexdigest()[:16]

    def current(self) -> tuple[str, dict[str, str]]:
        with self.lock:
            stamp = self.stamp()
            if stamp != self.version:
                from cardgen.loading.scope import select
                from cardgen.pipeline.run import render_all

                rendering = render_all(select(self.paths), policy=self.policy)
                self.pages = site(rendering, live=True)
                self.errors = [d.text() for d in rendering.diagnostics if d.severity == "error"]
                self.version = stamp
            return self.version, self.pages

    def missing(self, path: str) -> str:
        """The page for a path that is no page: the run's errors (a card whose sources no longer load
        has no page; this says why)."""
        why = (f"There is no page {path!r}" + (": these errors stopped a card, perhaps this one." if self.errors
                                               else "."))
        return problem_page("no such page", why, self.errors, True, "/index.html")


def server(live: LiveSite, port: int = 0, **bounds: Any) -> LoopbackServer:
    """The server of ``live``'s pages on 127.0.0.1 (``port`` 0: any free one); ``bounds``: the
    ``LoopbackServer``'s ``idle``, ``workers`` and ``waiting`` (default: ``limits``)."""
    from cardgen.commands.preview_server import Handler, LoopbackServer

    class Pages(Handler):
        def answer(self) -> None:
            version, pages = live.current()
            path = unquote(self.path.split("?")[0]).lstrip("/") or "index.html"
            if path == "__version":
                self.reply(200, version.encode(), "text/plain")
            elif path in pages:
                self.reply(200, pages[path].encode(), "text/html; charset=utf-8")
            else:
                self.reply(404, live.missing(path).encode(), "text/html; charset=utf-8")

    return LoopbackServer(port, Pages, **bounds)


def serve(paths: list[Path], port: int, policy: Any, announce: Callable[[str], None]) -> tuple[Report, int]:
    live = LiveSite(paths, policy)
    live.current()
    httpd = server(live, port)
    announce(f"serving http://127.0.0.1:{httpd.server_address[1]}/ (pages reload when a source changes; "
             "Ctrl-C stops)")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return Report("preview"), 0


@dataclass(frozen=True)
class PreviewOptions(Common):
    html: Path | None = None  # write static pages here; None: serve on 127.0.0.1
    port: int = 8000


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--html", type=Path, metavar="DIR", help="write a page per card and an index to DIR")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 to serve on (default: 8000; 0: any)")


def options(args: argparse.Namespace, common: dict[str, Any]) -> PreviewOptions:
    return PreviewOptions(**common, html=args.html, port=args.port)


def run(opts: PreviewOptions) -> tuple[Report, int]:
    if opts.html is not None:
        return write_site(list(opts.paths), opts.html, opts.policy)
    return serve(list(opts.paths), opts.port, opts.policy, lambda line: print(line, file=sys.stderr, flush=True))


COMMANDS = (Command("preview",
                    "show each card as the Hub shows a model page (HTML): served with reload, or written out",
                    "cardgen preview --html preview/   # or `cardgen preview` to serve them on 127.0.0.1:8000",
                    arguments, options, run),)
