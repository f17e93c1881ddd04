"""`cardgen preview`: each card as the Hub shows a model page, in HTML.

The README is rendered as `cardgen render` renders it; its body becomes HTML with markdown-it-py
(CommonMark, tables, strikethrough), raw HTML in it kept but sanitised with nh3 (as the Hub does, so
a card under review cannot run script in the reviewer's browser); its front matter becomes the side
panel (licence, task, library, languages, datasets, the base-model tree, tags, evaluation results,
emissions). Pages are made from Jinja templates (`templates/preview/`, autoescaped).

`--html DIR` writes one page per card and an index; without it, the pages are served on 127.0.0.1 and
re-rendered when a source changes (each page polls `/__version` and reloads).
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
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
from cardgen.diagnostics import plural
from cardgen.files import atomic_write
from cardgen.report import Report

if TYPE_CHECKING:
    from cardgen.pipeline.run import Rendering


@dataclass(frozen=True)
class Entry:
    text: str
    href: str | None = None
    tag: bool = False


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


@lru_cache(maxsize=1)
def _pages() -> Any:
    from jinja2 import FileSystemLoader, select_autoescape
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from cardgen.sections import package_templates

    return ImmutableSandboxedEnvironment(loader=FileSystemLoader(str(package_templates() / "preview")),
                                         autoescape=select_autoescape(default=True), trim_blocks=True,
                                         lstrip_blocks=True)


def body_html(markdown: str) -> str:
    """The card body as the Hub shows it: markdown-it-py's HTML, sanitised by nh3."""
    import nh3

    html = _markdown().render(markdown)
    tags = set(nh3.ALLOWED_TAGS) | {"details", "summary", "table", "thead", "tbody", "tr", "th", "td", "del"}
    attributes = {k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()}
    attributes.setdefault("td", set()).add("style")  # markdown-it aligns table cells with `style`
    attributes.setdefault("th", set()).add("style")
    attributes.setdefault("a", set()).update({"href", "title"})
    return str(nh3.clean(html, tags=tags, attributes=attributes))


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
    return str(_pages().get_template("page.html.j2").render(
        repo_id=repo_id, body=_safe(body_html(body)), panel=side_panel(meta, metas), problems=problems, live=live,
        index_href=index_href))


def _safe(html: str) -> Any:
    from markupsafe import Markup

    return Markup(html)  # noqa: S704 - sanitised by nh3 just before


def site(rendering: Rendering, live: bool = False) -> dict[str, str]:
    """Every page of a rendering: `index.html` and `<owner>/<name>.html`."""
    from cardgen.frontmatter import mapping, split

    metas = {repo: mapping(split(text)[0]) for repo, text in rendering.texts.items()}
    problems: dict[str, list[str]] = {}
    for d in rendering.diagnostics:
        for repo in rendering.texts:
            if d.severity == "warning" and rendering.where.get(repo, ("",))[0] == d.file:
                problems.setdefault(repo, []).append(f"{d.code} {d.message}")
    pages = {f"{repo}.html": page(repo, text, metas, problems.get(repo, []), live, "../index.html")
             for repo, text in sorted(rendering.texts.items())}
    cards = [{"repo_id": repo, "href": f"{repo}.html", "task": metas[repo].get("pipeline_tag")}
             for repo in sorted(rendering.texts)]
    pages["index.html"] = str(_pages().get_template("index.html.j2").render(cards=cards, failed=rendering.failed))
    return pages


def write_site(paths: list[Path], out: Path, policy: Any = None) -> tuple[Report, int]:
    from cardgen.loading.scope import select
    from cardgen.pipeline.run import render_all

    report = Report("preview")
    rendering = render_all(select(paths), policy=policy)
    report.diagnostics = rendering.diagnostics
    for name, html in site(rendering).items():
        target = out / name
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

                self.pages = site(render_all(select(self.paths), policy=self.policy), live=True)
                self.version = stamp
            return self.version, self.pages


def server(live: LiveSite, port: int = 0) -> http.server.ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 (``port`` 0: any free one) serving ``live``'s pages."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            version, pages = live.current()
            path = unquote(self.path.split("?")[0]).lstrip("/") or "index.html"
            if path == "__version":
                body, ctype, code = version.encode(), "text/plain", 200
            elif path in pages:
                body, ctype, code = pages[path].encode(), "text/html; charset=utf-8", 200
            else:
                body, ctype, code = b"not found", "text/plain", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)


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
