"""The lint reads plain prose parts (one paragraph, one ATX heading) and plain pipe tables without the
block parser: on every part of every README the tests hold, and on parts made to sit at the edge, it
finds what the parser finds."""

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


TABLES = [
    "| a | b |\n|---|---|\n| 1 | 2 |\n", "|a|b|\n|:-|-:|\n|x|y|", "| a | b |\n|---|---|\n| 1 | 2 | 3 |\n",
    "| a | b |\n|---|\n| 1 | 2 |", "| a |\n|---|---|\n| 1 |", "| a | b |\n| - | - |\n|  | 2 |",
    "| {{ x }} | None |\n|---|---|\n| [l](bad url) | ok |", "| a | b |\n|---|---|", "|a|\n|-|\n|b|\n|c|",
    "| a\u00a0| b |\n|---|---|\n| 1 | 2 |", "| a | b |\n|--- ---|---|\n| 1 | 2 |", "| a | b |\n|---|---|\n| 1 |",
    "|a|b|\n|-:-|-|\n|1|2|", "| a | b |\n|---|---|\n|1|2|  ", "|||\n|-|-|\n|||",
]


def test_table_parts_lint_as_the_parser_lints_them():
    """A part that is one plain pipe table is read without the block parser, with the parser's result,
    on every table part of the READMEs the tests hold, the edges above, and seeded random tables."""
    import random

    from cardgen.lint import _table_part

    rng = random.Random(7)
    words = ["a", "b c", "None", "{{ x }}", "[l](u v)", "-", ":", " ", "", "x]("]
    made = []
    for _ in range(400):
        n = rng.randint(1, 4)
        row = lambda k: "|" + "|".join(f" {rng.choice(words)} " for _ in range(k)) + "|"  # noqa: E731
        delim = "|" + "|".join(rng.choice(["---", ":--", "--:", ":-:", " - "]) for _ in range(n)) + "|"
        made.append("\n".join([row(n), delim, *(row(rng.choice([n, n, n, n - 1, n + 1])) for _ in range(3))]))
    real = [p for p in every_part() if p.startswith("|")]
    fast_ones = []
    for part in [*TABLES, *made, *real]:
        fast = _table_part(part)
        if fast is not None:
            fast_ones.append(part)
            assert fast == _parsed_part(part), part
    assert len(fast_ones) > 100 and len(set(fast_ones) & set(real)) >= len(real) // 3  # a good share of real ones


@pytest.mark.parametrize("text, code", [("# A\n\n### C\n", "CG704"), ("Text {{ x }} here\n", "CG705"),
                                         ("See [this](not a url)\n", "CG706"),
                                         ("| a | b |\n|---|---|\n| {{ x }} | 2 |\n", "CG705"),
                                         ("| a | b |\n|---|---|\n| [l](not a url) | 2 |\n", "CG706")])
def test_problems_in_plain_parts_are_still_found(text, code):
    _lint_part.cache_clear()
    assert code in {p.code for p in lint(text)}
