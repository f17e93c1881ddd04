"""Read a README back as structure, and compare two READMEs block by block.

A README becomes a list of blocks: each front-matter key with its value, each heading, each table
cell, each code block, each paragraph and list item (whitespace-normalised), each HTML block.
``compare`` says which blocks of one README appear in another; this is how the bundled cards are
checked against the published seed cards, and how a hand-written card can be migrated.
"""

from __future__ import annotations

import re

from cardgen.blocks import Block, Comparison, blocks, compare, norm, parser
from cardgen.frontmatter import split

__all__ = ["Block", "Comparison", "blocks", "compare", "lines_found", "parser", "plain_line", "text_lines"]


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


def _plain(tok) -> str:
    out = []
    for c in tok.children or []:
        if c.type in ("text", "code_inline"):
            out.append(c.content)
        elif c.type == "softbreak" or c.type == "hardbreak":
            out.append("\n")
        elif c.type == "image":
            out.append(c.content)
    return "".join(out)
