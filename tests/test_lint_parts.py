"""The lint reads plain prose parts (one paragraph, one ATX heading) without the block parser: on every
part of every README the tests hold, and on parts made to sit at the edge, it finds what the parser
finds."""

from __future__ import annotations

import pytest

from cardgen.frontmatter import split
from cardgen.lint import _lint_part, _parsed_part, _plain_part, chunks, lint

from conftest import REPO

EDGES = [
    "Plain words.", "Plain words\nover two lines.\n\n", "# Title", "## Title ##", "### A {{ leak }}",
    "#NoSpace", "# ", "Text with [a link](nowhere) in it", "Text ending in: None", "None",
    "Para\n===", "Para\n---", "Para\n    indented continuation", "Word\n1. not a list here",
    "A line\n- then a list", "A | b\n- | -", "Under_score and *stars*", "Ünïcode prose\nzweite Zeile",
    "Text\r\nwith CRLF", "Text <b>bold</b>", "Text {% raw %}", "Text ](broken", "####### seven",
]


def parts(text: str) -> list[str]:
    body = split(text)[1]
    lines = body.split("\n")
    return ["\n".join(lines[a:b]) for a, b in chunks(lines)]


def every_part() -> list[str]:
    out = list(EDGES)
    for p in sorted([*REPO.glob("rendered/*/*/README.md"), *REPO.glob("tests/corpus/**/*.md")]):
        out += parts(p.read_text("utf-8", errors="replace"))
    return out


def test_plain_parts_lint_as_the_parser_lints_them():
    seen = plain = 0
    for part in every_part():
        fast = _plain_part(part)
        seen += 1
        if fast is not None:
            plain += 1
            assert fast == _parsed_part(part), part
    assert plain > seen // 4  # the shortcut serves a good share of real prose


@pytest.mark.parametrize("text, code", [("# A\n\n### C\n", "CG704"), ("Text {{ x }} here\n", "CG705"),
                                         ("See [this](not a url)\n", "CG706")])
def test_problems_in_plain_parts_are_still_found(text, code):
    _lint_part.cache_clear()
    assert code in {p.code for p in lint(text)}
