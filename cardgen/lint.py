"""Lint rendered markdown with markdown-it-py: what a reader of the Hub page would trip over.

Tables with inconsistent column counts, code fences left open or unlabelled, headings that skip a
level, Jinja syntax or `None` leaking into the text, malformed links, unbalanced HTML.
Each problem is a ``LintProblem`` with its line in the README. Parts of a README that the block
parser reads independently are linted once per run however many cards share them (a memo keyed by
the part's text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from html.parser import HTMLParser
from typing import NamedTuple

from markdown_it import MarkdownIt

from cardgen.diagnostics import declare
from cardgen.frontmatter import line_count, lines, split
from cardgen.mdparts import chunks

for _code, _title in (
    ("CG702", "table has inconsistent column counts"),
    ("CG703", "code fence not closed or not labelled"),
    ("CG704", "heading skips a level"),
    ("CG705", "template syntax or None leaked into the output"),
    ("CG706", "malformed link"),
    ("CG707", "unbalanced HTML block"),
):
    declare(_code, _title)


class LintProblem(NamedTuple):
    line: int  # in the README
    code: str
    message: str


Problem = tuple[int, str, str]

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_JINJA = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_FILEISH = re.compile(r"^(\./|\.\./|/)|\.[A-Za-z0-9]{1,5}(#.*)?$|^#")


def demote(markdown: str, by: int = 1) -> str:
    """The markdown with every heading ``by`` levels lower (at most `######`), found by markdown-it-py
    (so `#` lines in code blocks stay as they are); setext headings become ATX ones. Lines end in `\n`
    after it, as markdown-it-py reads them (a lone `\r` ends a line too)."""
    rows = lines(markdown)
    for tok in parser().parse(markdown):
        if tok.type != "heading_open" or not tok.map:
            continue
        start, end = tok.map
        level = min(int(tok.tag[1]) + by, 6)
        if tok.markup.startswith("#"):
            rows[start] = "#" * (level - int(tok.tag[1])) + rows[start].lstrip(" ")
        else:  # setext: the text lines, then the underline
            text = " ".join(ln.strip() for ln in rows[start:end - 1])
            rows[start] = "#" * level + " " + text
            for i in range(start + 1, end):
                rows[i] = "\x00"
    return "\n".join(ln for ln in rows if ln != "\x00")


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
    """Collects the start and end tags of one piece of HTML as ``(line, is_end, tag)`` events."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[int, bool, str]] = []
        self.base = 0

    def piece(self, base: int, html: str) -> None:
        self.reset()
        self.base = base
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.events.append((self.base + self.getpos()[0], False, tag))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID:
            self.events.append((self.base + self.getpos()[0], True, tag))


def _balance(events: list[tuple[int, bool, str]]) -> list[Problem]:
    stack: list[tuple[str, int]] = []
    out: list[Problem] = []
    for line, is_end, tag in events:
        if not is_end:
            stack.append((tag, line))
        elif stack and stack[-1][0] == tag:
            stack.pop()
        else:
            open_ = f"; <{stack[-1][0]}> from line {stack[-1][1]} is still open" if stack else ""
            out.append((line, "CG707", f"</{tag}> closes nothing{open_}"))
            if any(t == tag for t, _ in stack):
                while stack[-1][0] != tag:
                    stack.pop()
                stack.pop()
    return out + [(ln, "CG707", f"<{t}> is never closed") for t, ln in stack]


def lint(text: str) -> list[LintProblem]:
    """Problems in a README, front matter and all (lines are the README's)."""
    _, body, _ = split(text)
    return lint_body(body, line_count(text[: len(text) - len(body)]))


def lint_body(body: str, offset: int = 0) -> list[LintProblem]:
    """Problems in a README body that starts after ``offset`` lines of the README; a line ends where
    markdown-it-py ends it (`\n`, `\r\n` or a lone `\r`), so its token lines are the body's."""
    return sorted({LintProblem(offset + ln, code, _finish(msg)) for ln, code, msg in _lint_body(body)})


def _lint_body(body: str) -> tuple[Problem, ...]:
    """Problems in a README body, lines from 1, messages not yet finished (see ``_finish``)."""
    found, headings, events = _lint_doc(lines(body))
    out = list(found)
    last_level = 0
    for line, level in headings:
        if last_level and level > last_level + 1:
            out.append((line, "CG704", f"heading level {level} follows level {last_level}"))
        last_level = level
    return tuple(out + _balance(list(events)))


PartLint = tuple[tuple[Problem, ...], tuple[tuple[int, int], ...], tuple[tuple[int, bool, str], ...]]
_ATX = re.compile(r"(#{1,6})[ \t]+([^#]*?)[ \t]*")
_ORDERED = re.compile(r"\d{1,9}[.)](?:\s|$)")  # an ordered list item's marker
_NOT_PLAIN = re.compile(r"[<|~\t\\&\r\x00]")  # characters that may start or change a block, or hide a tag
# (a backtick may open a fence only at a line's start, where a plain part has a letter or a digit)


@lru_cache(maxsize=2048)  # an organisation's boilerplate repeats; a bound keeps a long run's memory flat
def _lint_part(body: str) -> PartLint:
    """Lint one part: (problems, headings as (line, level), HTML tag events); lines from 1 in the part.
    A part that is one plain paragraph or one plain ATX heading (most of a card's prose) is read
    without the block parser, with the same result (``tests/test_lint_parts.py`` compares them)."""
    for shortcut in _SHORTCUTS.get(body[:1], _SHORTCUTS[""]):
        fast = shortcut(body)
        if fast is not None:
            return fast
    return _parsed_part(body)


def _plain_part(body: str) -> PartLint | None:
    """The lint of a part that is one paragraph whose lines each start with a letter, a digit (not an
    ordered list's marker) or bold text, or one ATX heading without closing `#`s, and holds no character
    that could start another block or a tag (code spans allowed); nothing for blank lines; None for any
    other part."""
    text = body.rstrip("\n \t")
    if not text or _NOT_PLAIN.search(text):
        return None if text else ((), (), ())  # blank lines: no block
    lines = text.split("\n")
    if len(lines) == 1 and text.startswith("#"):
        m = _ATX.fullmatch(text)
        return None if m is None else (
            tuple((1, c, msg) for c, msg in _inline_problems(m.group(2).strip(), False)), ((1, len(m.group(1))),), ())
    if not all((ln[:1].isalnum() or ln[:2] == "**" and ln[2:3].isalnum()) and not _ORDERED.match(ln) for ln in lines):
        return None
    return tuple((1, c, msg) for c, msg in _inline_problems(text.strip(), False)), (), ()


_NOT_TABLE = re.compile(r"[<`~\t\\&\r\x00]")  # as ``_NOT_PLAIN``, a pipe allowed, a backtick not (it hides pipes)
_DELIMITER = re.compile(r"\|(?: *:?-+:? *\|)+")


def _table_part(body: str) -> PartLint | None:
    """The lint of a part that is one pipe table alone: every line a row from a pipe at its first column to
    one at its end, a delimiter row second, every row with the header's number of cells, no cell edged with
    whitespace but spaces (parsers trim it differently), no character that could escape a pipe, open a code
    span, start a block or hide a tag; None for any other part. Cells are checked as the parser's are."""
    text = body.rstrip("\n")
    if not text.startswith("|") or _NOT_TABLE.search(text):
        return None
    rows = text.split("\n")
    if len(rows) < 2 or not _DELIMITER.fullmatch(rows[1]) or not all(r[:1] == "|" == r[-1:] for r in rows):
        return None
    cells = [r[1:-1].split("|") for r in rows]
    if len(cells[0]) != len(cells[1]) or any(len(c) != len(cells[0]) for c in cells[2:]):
        return None
    out: list[Problem] = []
    for n, row in enumerate(cells):
        if n == 1:
            continue
        for cell in row:
            content = cell.strip(" ")
            if content != cell.strip():
                return None
            out += [(n + 1, code, msg) for code, msg in _inline_problems(content, True)]
    return tuple(out), (), ()


_NOT_LIST = re.compile(r"[<~|\t\\&\r\x00]")  # as ``_NOT_PLAIN`` (a fence is not: ``_ITEM``)
_ITEM = re.compile(r"[*-] ((?:\*\*[^\s*]|[A-Za-z0-9\[(]|`(?!``))[^\n]*[^\s])")


def _list_part(body: str) -> PartLint | None:
    """The lint of a part that is a tight bullet list, after an ATX heading and one blank line or not:
    each item one line, a `*` or `-`, one space, then a word, a link, a code span or bold text, with no
    space at its end and no character that could escape, start another block or hide a tag (the shape
    of a card's details and lists); None for any other part."""
    text = body.rstrip("\n")
    if _NOT_LIST.search(text):
        return None
    rows = text.split("\n")
    out: list[Problem] = []
    headings: tuple[tuple[int, int], ...] = ()
    first = 0
    if rows[0].startswith("#"):
        m = _ATX.fullmatch(rows[0])
        if m is None or len(rows) < 3 or rows[1]:
            return None
        out += [(1, c, msg) for c, msg in _inline_problems(m.group(2).strip(), False)]
        headings, first = ((1, len(m.group(1))),), 2
    if first >= len(rows):
        return None
    for n in range(first, len(rows)):
        m = _ITEM.fullmatch(rows[n])
        if m is None or _ORDERED.match(m.group(1)):
            return None
        out += [(n + 1, c, msg) for c, msg in _inline_problems(m.group(1), False)]
    return tuple(out), headings, ()


_OPENER = re.compile(r"(`{3,}|~{3,})([^`]*)")
_LEAD = re.compile(r"[A-Za-z][^<~|\t\\&\r\x00]*")


def _fence_part(body: str) -> PartLint | None:
    """The lint of a part that is one fenced code block from its first column, closed by its last line
    (the opening fence again, nothing after it), after a plain paragraph whose lines each start with a
    letter (code spans allowed) or not; None for any other part."""
    rows = body.rstrip("\n").split("\n")
    k = next((i for i, r in enumerate(rows) if r[:1] in "`~"), None)
    if k is None or len(rows) - k < 2 or not all(_LEAD.fullmatch(r) and r[-1:] != " " for r in rows[:k]):
        return None
    m = _OPENER.fullmatch(rows[k])
    if m is None or rows[-1] != m.group(1):
        return None
    fence = m.group(1)
    for r in rows[k + 1:-1]:  # a line that could close the fence earlier
        stripped = r.lstrip(" ")
        if len(r) - len(stripped) < 4 and stripped.startswith(fence[0] * 3) and not stripped.rstrip().strip(fence[0]):
            return None
    out: list[Problem] = []
    if k:
        out += [(1, c, msg) for c, msg in _inline_problems("\n".join(rows[:k]).strip(), False)]
    if not m.group(2).strip():
        out.append((k + 1, "CG703", "code fence has no language label (e.g. ```text)"))
    return tuple(out), (), ()


def _comment_part(body: str) -> PartLint | None:
    """The lint of a part that is one HTML comment on one line (cardgen's digest marker): nothing; None
    for any other part."""
    text = body.rstrip("\n")
    if "\n" in text or not text.startswith("<!--") or not text.endswith("-->") or text.count("-->") != 1:
        return None
    return (), (), ()


_BULLET = re.compile(r"[*-] \S")  # an item's first line: a bullet, one space, its content
_BREAK = re.compile(r" {0,3}([-*_])(?: *\1){2,} *")  # a thematic break, which a bullet line may also be
_LEAD_CHARS, _DEEPEST = " -*+0123456789.)", 16  # what may stand before a line's text in nested lists, and how much


def _items_part(body: str) -> PartLint | None:
    """The lint of a part that is a bullet list whose items hold blocks (a loose list), after a plain
    paragraph or ATX heading and a blank line or not: each item a `*` or `-`, one space, its first line,
    then lines indented by two spaces or blank. An item's blocks are what its text, two columns off each
    line, parses to alone (CommonMark), so each item is linted as a document; None for any other part
    (tabs, lazy lines, other indentation, a thematic break, a block quote, nesting near the parser's bound,
    below which it drops text and an item's own parse starts at the top)."""
    if "\t" in body or "\r" in body or "\x00" in body:
        return None
    rows = body.rstrip("\n").split("\n")
    for r in rows:  # a list level takes two columns or more of a line's lead: 8 levels at most here
        rest = r.lstrip(_LEAD_CHARS)
        if len(r) - len(rest) > _DEEPEST or rest[:1] == ">":
            return None
    found: _Found = ([], [], [])
    i = 0
    if not _BULLET.match(rows[0]):  # a lead-in: one plain paragraph or heading, then a blank line
        blank = next((k for k, r in enumerate(rows) if not r.strip(" ")), None)
        lead = _plain_part("\n".join(rows[:blank])) if blank else None
        if lead is None or blank is None:
            return None
        _add(found, lead, 0)
        i = blank
        while i < len(rows) and not rows[i].strip(" "):
            i += 1
    if i >= len(rows):
        return None
    while i < len(rows):
        first = rows[i]
        if not _BULLET.match(first) or _BREAK.fullmatch(first):
            return None
        inner = [first[2:]]
        j = i + 1
        while j < len(rows) and (rows[j].startswith("  ") or not rows[j].strip(" ")):  # spaces alone: blank
            inner.append(rows[j][2:] if rows[j].strip(" ") else "")
            j += 1
        _add(found, _lint_doc(inner), i)
        i = j
    return tuple(found[0]), tuple(found[1]), tuple(found[2])


#: the shortcuts worth trying on a part, by its first character (each refuses any other part)
_SHORTCUTS: dict[str, tuple[Callable[[str], PartLint | None], ...]] = {
    "": (_plain_part, _table_part, _list_part, _fence_part, _comment_part, _items_part),
    "|": (_table_part,), "<": (_comment_part,), "`": (_fence_part,), "~": (_fence_part,),
    "-": (_list_part, _items_part), "*": (_plain_part, _list_part, _items_part),
    "#": (_plain_part, _list_part, _items_part),
}


def _lint_doc(rows: list[str]) -> PartLint:
    """A document's lint, part by part (``chunks``, ``_lint_part``); lines from 1 in the document."""
    found: _Found = ([], [], [])
    for a, b in chunks(rows):
        _add(found, _lint_part("\n".join(rows[a:b])), a)
    return tuple(found[0]), tuple(found[1]), tuple(found[2])


_Found = tuple[list[Problem], list[tuple[int, int]], list[tuple[int, bool, str]]]


def _add(found: _Found, part: PartLint, at: int) -> None:
    """Add a part's lint to a document's, its lines moved down by ``at``."""
    if part[0]:
        found[0].extend((at + ln, code, msg) for ln, code, msg in part[0])
    if part[1]:
        found[1].extend((at + ln, level) for ln, level in part[1])
    if part[2]:
        found[2].extend((at + ln, is_end, tag) for ln, is_end, tag in part[2])


def _parsed_part(body: str) -> PartLint:
    rows = lines(body)
    # a last line that ends too, so that each line of a fence's content ends in `\n` (see below)
    tokens = parser().parse(body if body.endswith(("\n", "\r")) else body + "\n")
    out: list[Problem] = []
    headings: list[tuple[int, int]] = []
    tags = _Tags()
    in_table = False
    for tok in tokens:
        if tok.type in ("table_open", "table_close"):
            in_table = tok.type == "table_open"
        line = (tok.map[0] if tok.map else 0) + 1
        if tok.type == "heading_open":
            headings.append((line, int(tok.tag[1])))
        elif tok.type == "table_open" and tok.map:
            start, end = tok.map
            want = _cells(rows[start])
            for n in range(start + 1, end):
                if rows[n].strip() and _cells(rows[n]) != want:
                    out.append((n + 1, "CG702", f"table row has {_cells(rows[n])} cells, the header {want}"))
        elif tok.type == "fence":
            if not tok.info.strip():
                out.append((line, "CG703", "code fence has no language label (e.g. ```text)"))
            # the parser's own verdict: a closed fence spans its content's lines and two fence lines
            if tok.map and tok.content.count("\n") != tok.map[1] - tok.map[0] - 2:
                out.append((line, "CG703", "code fence is never closed"))
        elif tok.type == "html_block":
            tags.piece(line - 1, tok.content)
        elif tok.type == "inline":
            out += [(line, code, msg) for code, msg in _inline_problems(tok.content, in_table)]
            if "<" in tok.content:
                tags.piece(line - 1, _CODE_SPAN.sub("", tok.content))
    return tuple(out), tuple(headings), tuple(tags.events)


_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*(<[^>]*>|[^\s)]*)(?:\s+\"[^\"]*\")?\s*\)")


_EXCERPT = re.compile(r"\x00(\d*)\x01(.*?)\x02", re.S)


def _excerpt(text: str, width: int | None = None) -> str:
    """A quoted excerpt of the text, cut to ``width`` when the message is finished."""
    return f"\x00{width or ''}\x01{text.translate(_NO_MARKS)}\x02"


_NO_MARKS = {0: None, 1: None, 2: None}


def _finish(msg: str) -> str:
    return _EXCERPT.sub(lambda m: repr(m.group(2)[: int(m.group(1))] if m.group(1) else m.group(2)), msg)


@lru_cache(maxsize=4096)
def _inline_problems(content: str, in_table: bool) -> tuple[tuple[str, str], ...]:
    """Problems in one inline run (the raw markdown of a paragraph, heading, item or cell)."""
    if "](" not in content and "None" not in content and "{" not in content and "}" not in content \
            and "`" not in content:
        return ()  # each problem below needs one of these (taking a code span out may join one)
    out = []
    text = _CODE_SPAN.sub("", content)
    if _JINJA.search(text):
        out.append(("CG705", f"template syntax leaked into the text: {_excerpt(content.strip(), 60)}"))
    # a table cell may say "None" on purpose (e.g. GPTQ group size); prose should not
    if not in_table and (text.strip() == "None" or text.rstrip().endswith(": None")):
        out.append(("CG705", f"`None` leaked into the text: {_excerpt(content.strip(), 60)}"))
    rest = text
    for m in _LINK.finditer(text):
        href = m.group(2).strip("<>")
        if not href:
            out.append(("CG706", f"link target of {_excerpt(m.group(0), 40)} is empty"))
        elif not _SCHEME.match(href) and not _FILEISH.search(href):
            out.append(("CG706", f"link target {_excerpt(href)} is neither a URL nor a file path"))
        rest = rest.replace(m.group(0), "")
    if "](" in rest:
        out.append(("CG706", f"a link did not parse: {_excerpt(rest.strip(), 60)}"))
    return tuple(out)
