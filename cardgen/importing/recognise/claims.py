"""What the recognisers share: the ``Claim`` each one makes, the parsed ``Body`` it reads, and the
helpers that turn lines of the body into a slot's partial (``literal``, ``partial``), tell a closed
code block (``closed``) and read a table's cells (``cells``)."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from cardgen.importing.blocks import parser

LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")  # a markdown link: label, target


@dataclass
class Claim:
    """A part of the body (lines ``start``..``end``) that the slot ``slot`` shows from ``fields``."""

    start: int
    end: int
    slot: str
    fields: dict[str, Any]
    partial: str  # the slot's own template
    what: str  # for the report
    original: str = ""  # the lines it stands for
    expected: str | None = None  # those lines once `--fix` computed their counts (None: as the original)
    by_lines: bool = False  # a flattened page's part: checked line by line, not block by block
    files: dict[str, str] = field(default_factory=dict)  # more templates of the card's own, by file name
    system_prompt: str | None = None  # a usage snippet's `system_prompt = "..."` (the template's system part)


def literal(text: str) -> str:
    """Text for a Jinja template that renders as itself (no block tags: trim_blocks leaves it alone)."""
    return re.sub(r"\{[{%#]", lambda m: '{{ "' + m.group(0) + '" }}', text)


def partial(lines: list[str], start: int, end: int, holes: list[tuple[int, int, str]]) -> str:
    """Lines ``start``..``end`` as a template: each hole (its own line range) replaced by an expression."""
    out, at = [], start
    for a, b, expr in sorted(holes):
        if a > at:
            out.append(literal("\n".join(lines[at:a])) + "\n")
        out.append(expr + "\n")
        at = b
    if at < end:
        out.append(literal("\n".join(lines[at:end])) + "\n")
    return "".join(out)


@dataclass
class Body:
    """The body's lines and its top-level blocks (markdown-it tokens with a line map). The recognisers ask
    for the blocks of a range of lines and the cells of a table once per section: both are looked up
    (``blocks_in`` by bisection, ``position`` from a table made once), so that a recogniser's time grows
    with the body, not with the body times its headings."""

    lines: list[str]
    tokens: list[Any]
    offset: int = 0  # lines of the README before the body (its front matter)
    fixed: dict[int, str] = field(default_factory=dict)  # line -> what it says once `--fix` computed its count
    _top: list[Any] | None = field(default=None, repr=False)
    _starts: list[int] = field(default_factory=list, repr=False)
    _pos: dict[int, int] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, text: str, offset: int = 0) -> Body:
        tokens = parser().parse(text)
        return cls(text.split("\n"), tokens, offset)

    def top(self) -> list[Any]:
        """The top-level blocks, in the order of the body (their line maps do not overlap)."""
        if self._top is None:
            self._top = [t for t in self.tokens if t.map and t.level == 0 and not t.type.endswith("_close")]
            self._starts = [t.map[0] for t in self._top]
        return self._top

    def sections(self) -> list[tuple[int, int, int, str]]:
        """(start, end, level, heading text) of every heading's section, up to the next heading of its
        level or higher (found with a stack of the sections still open: one pass)."""
        heads = []
        for i, t in enumerate(self.tokens):
            if t.type == "heading_open" and t.level == 0 and t.map:
                heads.append((t.map[0], int(t.tag[1]), self.tokens[i + 1].content))
        ends = [len(self.lines)] * len(heads)
        open_: list[int] = []  # indices of headings whose section has not ended yet
        for k, (start, level, _) in enumerate(heads):
            while open_ and heads[open_[-1]][1] >= level:
                ends[open_.pop()] = start
            open_.append(k)
        return [(start, end, level, text) for (start, level, text), end in zip(heads, ends, strict=True)]

    def blocks_in(self, start: int, end: int) -> list[Any]:
        """The top-level blocks that lie within lines ``start``..``end``."""
        top = self.top()
        out = []
        for i in range(bisect.bisect_left(self._starts, start), len(top)):
            t = top[i]
            if t.map[0] >= end:
                break
            if t.map[1] <= end:
                out.append(t)
        return out

    def position(self, token: Any) -> int:
        """Where ``token`` is in ``tokens``."""
        if not self._pos:
            self._pos = {id(t): i for i, t in enumerate(self.tokens)}
        return self._pos[id(token)]


def closed(body: Body, f: Any) -> bool:
    """Whether the code block ``f`` ends with its closing fence (one never closed runs to the end)."""
    return f.map[1] - f.map[0] >= 2 and body.lines[f.map[1] - 1].strip().startswith(f.markup)


def cells(body: Body, table: Any) -> tuple[list[str], list[list[str]]]:
    """The source text of each cell of a table (escaped pipes unescaped)."""
    i = body.position(table)
    header: list[str] = []
    rows: list[list[str]] = []
    row: list[str] | None = None
    for k in range(i + 1, len(body.tokens)):
        t = body.tokens[k]
        if t.type == "table_close":
            break
        if t.type == "tr_open":
            row = []
        elif t.type == "inline" and row is not None:
            row.append(t.content.replace("\\|", "|"))
        elif t.type == "tr_close" and row is not None:
            if header:
                rows.append(row)
            else:
                header = row
            row = None
    return header, rows
