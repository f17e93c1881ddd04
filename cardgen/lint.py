"""Lint rendered markdown with markdown-it-py: what a reader of the Hub page would trip over.

Tables with inconsistent column counts, code fences left open or unlabelled, headings that skip a
level, Jinja syntax or `None` leaking into the text, malformed links, unbalanced HTML.
Each problem is ``(line, code, message)`` with the line in the README.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html.parser import HTMLParser

from markdown_it import MarkdownIt

Problem = tuple[int, str, str]

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_JINJA = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_FILEISH = re.compile(r"^(\./|\.\./|/)|\.[A-Za-z0-9]{1,5}(#.*)?$|^#")


@lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    # block structure only: inline runs are checked from their raw markdown (see _inline_problems)
    return MarkdownIt("commonmark").enable("table").disable("inline")


def _cells(line: str) -> int:
    s = line.strip()
    s = s[1:] if s.startswith("|") else s
    s = s[:-1] if s.endswith("|") and not s.endswith("\\|") else s
    s = re.sub(r"`[^`]*`", "x", s)
    return len(re.split(r"(?<!\\)\|", s))


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, int]] = []
        self.problems: list[tuple[int, str]] = []
        self.base = 0

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append((tag, self.base + self.getpos()[0]))

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        line = self.base + self.getpos()[0]
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            open_ = f"; <{self.stack[-1][0]}> from line {self.stack[-1][1]} is still open" if self.stack else ""
            self.problems.append((line, f"</{tag}> closes nothing{open_}"))
            if any(t == tag for t, _ in self.stack):
                while self.stack and self.stack[-1][0] != tag:
                    self.stack.pop()
                self.stack.pop()
            return
        self.stack.pop()


def lint(text: str) -> list[Problem]:
    """Problems in a README (front matter included; lines are the README's)."""
    from .frontmatter import split

    _, body, _ = split(text)
    offset = text[: len(text) - len(body)].count("\n")
    lines = body.split("\n")
    tokens = parser().parse(body)
    out: list[Problem] = []
    last_level = 0
    tags = _Tags()
    in_table = False
    for i, tok in enumerate(tokens):
        if tok.type in ("table_open", "table_close"):
            in_table = tok.type == "table_open"
        line = (tok.map[0] if tok.map else 0) + offset + 1
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            if last_level and level > last_level + 1:
                out.append((line, "CG704", f"heading level {level} follows level {last_level}"))
            last_level = level
        elif tok.type == "table_open" and tok.map:
            start, end = tok.map
            want = _cells(lines[start])
            for n in range(start + 1, end):
                if lines[n].strip() and _cells(lines[n]) != want:
                    out.append((n + offset + 1, "CG702", f"table row has {_cells(lines[n])} cells, the header {want}"))
        elif tok.type == "fence":
            if not tok.info.strip():
                out.append((line, "CG703", "code fence has no language label (e.g. ```text)"))
            end = tok.map[1] if tok.map else 0
            closing = lines[end - 1].strip() if 0 < end <= len(lines) else ""
            if end - (tok.map[0] if tok.map else 0) < 2 or not closing.startswith(tok.markup[0] * len(tok.markup)) \
                    or closing.strip(tok.markup[0]):
                out.append((line, "CG703", "code fence is never closed"))
        elif tok.type == "html_block":
            tags.base = line - 1
            tags.feed(tok.content)
        elif tok.type == "inline":
            out += _inline(tok, line, tags, in_table)
    tags.close()
    out += [(ln, "CG707", msg) for ln, msg in tags.problems]
    out += [(ln, "CG707", f"<{t}> is never closed") for t, ln in tags.stack]
    return sorted(set(out))


_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*(<[^>]*>|[^\s)]*)(?:\s+\"[^\"]*\")?\s*\)")


@lru_cache(maxsize=65536)
def _inline_problems(content: str, in_table: bool) -> tuple[tuple[str, str], ...]:
    """Problems in one inline run (the raw markdown of a paragraph, heading, item or cell)."""
    out = []
    text = _CODE_SPAN.sub("", content)
    if _JINJA.search(text):
        out.append(("CG705", f"template syntax leaked into the text: {content.strip()[:60]!r}"))
    # a table cell may say "None" on purpose (e.g. GPTQ group size); prose should not
    if not in_table and (text.strip() == "None" or text.rstrip().endswith(": None")):
        out.append(("CG705", f"`None` leaked into the text: {content.strip()[:60]!r}"))
    rest = text
    for m in _LINK.finditer(text):
        href = m.group(2).strip("<>")
        if not href:
            out.append(("CG706", f"link target of {m.group(0)[:40]!r} is empty"))
        elif not _SCHEME.match(href) and not _FILEISH.search(href):
            out.append(("CG706", f"link target {href!r} is neither a URL nor a file path"))
        rest = rest.replace(m.group(0), "")
    if "](" in rest:
        out.append(("CG706", f"a link did not parse: {rest.strip()[:60]!r}"))
    return tuple(out)


def _inline(tok, line: int, tags: _Tags, in_table: bool) -> list[Problem]:
    content = tok.content
    out = [(line, code, msg) for code, msg in _inline_problems(content, in_table)]
    if "<" in content:
        tags.base = line - 1
        tags.feed(_CODE_SPAN.sub("", content))
    return out
