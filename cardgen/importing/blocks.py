"""A README read back as blocks, and two READMEs compared block by block.

A README becomes a list of blocks: each front-matter key with its value, each heading, each table
cell, each code block, each paragraph and list item (whitespace-normalised), each HTML block. This is
how `cardgen import` checks that what it recognised as structure renders back to the text it came
from, and how the tests check rendered cards against the originals.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt

from cardgen.frontmatter import mapping, split


@lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


@dataclass(frozen=True)
class Block:
    kind: str  # front-matter | heading | cell | code | paragraph | item | html
    text: str

    def __str__(self) -> str:
        short = self.text if len(self.text) < 90 else self.text[:87] + "..."
        return f"{self.kind}: {short}"


def norm(s: str) -> str:
    return " ".join(s.split())


def _inline(tok: Any) -> str:
    out = []
    links = []
    for c in tok.children or []:
        if c.type == "text" or c.type == "code_inline":
            out.append(c.content)
        elif c.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif c.type == "link_open":
            links.append(c.attrs.get("href", ""))
            out.append("[")
        elif c.type == "link_close":
            out.append(f"]({links.pop() if links else ''})")
        elif c.type == "image":
            out.append(f"![{c.content}]({c.attrs.get('src', '')})")
        elif c.type == "html_inline":
            out.append(c.content)
    return norm("".join(out))


def _code(content: str) -> str:
    return "\n".join(line.rstrip() for line in content.strip("\n").split("\n")).strip()


def body_blocks(body: str, align: bool = False) -> list[Block]:
    """The blocks of markdown without front matter; with ``align``, a table cell's block names its column's
    alignment (`|:--|`, `|:-:|`, `|--:|`) as well: import's check that a table renders back as written."""
    out: list[Block] = []
    tokens = parser().parse(body)
    context: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.type in ("bullet_list_open", "ordered_list_open", "table_open", "heading_open", "th_open", "td_open"):
            context.append(tok.type)
        elif tok.type in ("bullet_list_close", "ordered_list_close", "table_close", "heading_close", "th_close",
                          "td_close"):
            context.pop()
        elif tok.type == "inline":
            text_ = _inline(tok)
            if not context:
                kind = "paragraph"
            elif context[-1] == "heading_open":
                kind = "heading"
                text_ = f"{tokens[i - 1].tag} {text_}"
            elif context[-1] in ("th_open", "td_open"):
                kind = "cell"
                style = str(tokens[i - 1].attrs.get("style", "")) if align else ""
                text_ = f"<{style.removeprefix('text-align:')}> {text_}" if style else text_
            elif "bullet_list_open" in context or "ordered_list_open" in context:
                kind = "item"
            else:
                kind = "paragraph"
            if text_ or kind == "cell":
                out.append(Block(kind, text_))
        elif tok.type in ("fence", "code_block"):
            out.append(Block("code", _code(tok.content)))
        elif tok.type == "html_block":
            t = norm(tok.content)
            if t:
                out.append(Block("html", t))
    return out


def blocks(text: str) -> list[Block]:
    """The blocks of a README: its front-matter keys, then its body's blocks."""
    fm, body, _ = split(text)
    out: list[Block] = []
    for k, v in mapping(fm).items():  # not YAML, or not a mapping: no keys to compare
        out.append(Block("front-matter", f"{k}: {json.dumps(v, sort_keys=True, ensure_ascii=False)}"))
    return out + body_blocks(body)


@dataclass
class Comparison:
    total: int
    found: int
    missing: list[Block]

    @property
    def ratio(self) -> float:
        return self.found / self.total if self.total else 1.0


def compare(reference: str, candidate: str) -> Comparison:
    """Which blocks of ``reference`` appear in ``candidate`` (as a multiset)."""
    ref = blocks(reference)
    have = Counter(blocks(candidate))
    missing = []
    for b in ref:
        if have[b] > 0:
            have[b] -= 1
        else:
            missing.append(b)
    return Comparison(len(ref), len(ref) - len(missing), missing)


def text_lines(text: str) -> list[str]:
    """The non-empty lines of a README's text as a reader sees it (for flattened pages)."""
    _, body, _ = split(text)
    tokens = parser().parse(body)
    out = []
    for tok in tokens:
        if tok.type == "inline":
            for part in _plain(tok).split("\n"):
                if part.strip():
                    out.append(norm(part))
        elif tok.type in ("fence", "code_block", "html_block"):
            out += [norm(x) for x in tok.content.split("\n") if x.strip()]
    return out


_MARKS = re.compile(r"\*\*|__|`|^\s*(?:[-*+]|\d+\.)\s+")


def plain_line(line: str) -> list[str]:
    """A line of flattened page text as its pieces: tab-separated cells with list markers and
    emphasis removed; empty cells and the empty `<div></div>` of a lost table cell are dropped."""
    out = []
    for part in line.split("\t"):
        t = norm(_MARKS.sub("", part.strip()))
        if t and t != "<div></div>":
            out.append(t)
    return out


def lines_found(flat_text: str, rendered: str) -> tuple[int, list[str]]:
    """How many non-empty lines of a flattened page appear in a rendered README's text: a line
    appears when each of its cells is found in the rendered text. Returns (total, missing lines)."""
    have = " \n ".join(text_lines(rendered))
    lines = [ln for ln in flat_text.split("\n") if ln.strip()]
    missing = [ln for ln in lines if not all(c in have for c in plain_line(ln))]
    return len(lines), missing


def _plain(tok: Any) -> str:
    out = []
    for c in tok.children or []:
        if c.type in ("text", "code_inline"):
            out.append(c.content)
        elif c.type == "softbreak" or c.type == "hardbreak":
            out.append("\n")
        elif c.type == "image":
            out.append(c.content)
    return "".join(out)
