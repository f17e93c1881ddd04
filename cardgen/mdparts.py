"""A markdown document cut where the block parser starts afresh (``chunks``): the parts the lint reads one
by one, and memoises (``lint._lint_part``), since cards share most of their sections."""

from __future__ import annotations

import re

_NO_CUT = ("", " ", "\t")  # indented lines may continue a list item or an indented code block
_FENCE_START, _RAW_START, _LIST_START = "`~ ", "< ", "-+*0123456789"  # first characters worth a look
_LIST_ITEM = re.compile(r"(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)")  # may continue a loose list
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)$")
_RAW_OPEN = (  # CommonMark HTML blocks 1-5, which run across blank lines until their end marker
    (re.compile(r" {0,3}<(?:script|pre|style|textarea)(?:[\s>]|$)", re.I | re.A),  # ASCII, as the parser's
     re.compile(r"</(?:script|pre|style|textarea)>", re.I | re.A)),
    (re.compile(r" {0,3}<!--"), re.compile(r"-->")),
    (re.compile(r" {0,3}<\?"), re.compile(r"\?>")),
    (re.compile(r" {0,3}<![A-Za-z]"), re.compile(r">")),
    (re.compile(r" {0,3}<!\[CDATA\["), re.compile(r"\]\]>")),
)


def chunks(lines: list[str]) -> list[tuple[int, int]]:
    """Cut a markdown document into ``(start, end)`` line ranges that parse independently.

    A cut is made before a line that starts at column 0 after a blank line and is not a list item
    (which could continue a loose list), outside fenced code and outside the HTML blocks that run
    across blank lines: there every container and leaf block of the previous part has ended, so
    parsing the parts one by one gives the same blocks as parsing the whole. Where in doubt no cut
    is made, and after some doubts none at all: a line indented less than an open fence or HTML block
    (which it ends if they sit in a list item), a fence in what may be an HTML block. A blank line is one
    of spaces and tabs alone, as the parser reads it.
    """
    cuts = [0]
    fence: str | None = None  # the open fence's marker
    raw: re.Pattern[str] | None = None  # what ends the open HTML block
    indent, html, prev_blank = 0, False, True  # the open block's first line's indent; in HTML maybe
    for i, line in enumerate(lines):
        blank = not line.strip(" \t")
        if fence is not None or raw is not None:
            if indent and not blank and _indent(line) < indent:
                break  # the list item holding the block may end here: what follows, only the parser knows
            if fence is not None and _closes(line, fence):
                fence = None
            elif raw is not None and raw.search(line):
                raw = None
        else:
            if prev_blank and i and _starts_afresh(line):
                cuts.append(i)
            opened = _fence_opener(line)
            if opened is not None and html:
                break  # HTML text, or a fence after the HTML block ended: the parser knows which
            if opened is not None:
                fence, indent = opened, _indent(line)
            elif line[:1] in _RAW_START and "<" in line[:4]:
                kind = _raw_kind(line)
                if kind is None:
                    html = True  # CommonMark's kinds 6 and 7 end at a blank line
                else:
                    raw, indent = kind[0], _indent(line)
        html = html and not blank
        prev_blank = blank
    cuts.append(len(lines))
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _starts_afresh(line: str) -> bool:
    """Whether a line after a blank one starts a new part: at column 0 and no list item."""
    c = line[:1]
    return c not in _NO_CUT and not (c in _LIST_START and _LIST_ITEM.match(line))


def _fence_opener(line: str) -> str | None:
    """The marker of the fence a line opens (a backtick fence's info string holds no backtick), or None."""
    m = _FENCE.match(line) if line[:1] in _FENCE_START else None
    if m is None or (m.group(1)[0] == "`" and "`" in m.group(2)):
        return None
    return m.group(1)


def _closes(line: str, fence: str) -> bool:
    """Whether a line closes a fence opened with ``fence``."""
    m = _FENCE.match(line) if line[:1] in _FENCE_START else None
    return bool(m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2).strip())


def _raw_kind(line: str) -> tuple[re.Pattern[str] | None] | None:
    """For a line that opens an HTML block of kinds 1-5: (what ends it, None when it ends on this line);
    None for any other line."""
    for opener, closer in _RAW_OPEN:
        m = opener.match(line)
        if m:
            return (None if closer.search(line, m.end()) else closer,)
    return None
