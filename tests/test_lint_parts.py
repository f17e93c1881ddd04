"""The lint reads plain prose parts (one paragraph, one ATX heading), plain pipe tables and plain
bullet lists, fenced blocks and comment lines without the block parser: on every part of every README the tests hold, and on parts made to sit at the edge, it
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
    "9 of the 20 pairs apply", "1. a list", "2) a list", "1234567890. not a list", "2024\n1. item", "Use `x` here",
    "`code` first", "Text `a\nb` span", "Use ``{{ x }}``", "**Bold** start\nsecond", "** not bold", "***x", "**x**\n---",
    "**x**\n===", "", "   \n", "\n\n", "# A `code` heading", "Text\n**bold** line\n3 lines",
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


def read_fast(shortcuts, parts: list[str]) -> list[str]:
    """The parts one of the shortcuts reads without the block parser, each checked to give the parser's
    result."""
    fast_ones = []
    for part in parts:
        for shortcut in shortcuts:
            fast = shortcut(part)
            if fast is not None:
                fast_ones.append(part)
                assert fast == _parsed_part(part), part
    return fast_ones


def test_plain_parts_lint_as_the_parser_lints_them():
    parts = every_part()
    assert len(read_fast([_plain_part], parts)) > len(parts) // 4  # the shortcut serves a good share of real prose


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
    fast_ones = read_fast([_table_part], [*TABLES, *made, *real])
    assert len(fast_ones) > 100 and len(set(fast_ones) & set(real)) >= len(real) // 3  # a good share of real ones


LISTS = [
    "## Details\n\n* **By**: [Lab](https://example.org)\n* **Type**: `llama`\n", "* a\n* b", "- a\n* b\n- c",
    "## H\n* a", "## H\n\n\n* a", "# H\n\n* 1. nested", "# H\n\n* 12) nested", "* **bold** and *em*", "* **",
    "* ``` fence", "* `code` span", "* [link](not a url)", "* None", "* {{ leak }}", "* a  ", "* a\n  continued",
    "*  two spaces", "* (parens)", "* 70B", "* 1.5B parameters", "### H ###\n\n* a", "#H\n\n* a", "* a\n\n* b",
    "* ***", "* **x**", "- --", "* a | b", "## Model\n\n* [x](y)\n* `z`\n* **w**: v",
]


def test_list_parts_lint_as_the_parser_lints_them():
    """A part that is a tight one-line-item bullet list, after a heading or not, is read without the
    block parser, with the parser's result, on every list part of the READMEs the tests hold, the edges
    above, and seeded random lists."""
    import random

    from cardgen.lint import _list_part

    rng = random.Random(11)
    starts = ["**Key**: value", "word", "[a](b)", "[a](not url)", "`x`", "``x``", "1. n", "2) n", "12 items", "(p)",
              "None", "{{ x }}", "a*b*", "**", "* x", "- x", "Ünï", "x ]("]
    made = []
    for _ in range(400):
        head = rng.choice(["", "## Details\n\n", "### A\n\n", "# B\n"])
        made.append(head + "\n".join(f"{rng.choice('*-')} {rng.choice(starts)}" for _ in range(rng.randint(1, 5))))
    real = [p for p in every_part() if p.lstrip("#").startswith((" ",)) or p.startswith(("* ", "- "))]
    fast_ones = read_fast([_list_part], [*LISTS, *made, *real])
    assert len(fast_ones) > 40 and set(fast_ones) & set(real)


FENCES = [
    "```python\nx = 1\n```\n", "```\nno label\n```", "~~~text\nx\n~~~", "````md\n```\ninner\n```\n````",
    "```text\n```\nearly\n```", "Use `x` with this:\n```python\nimport x\n```", "Two lines\nof prose:\n```text\na\n```",
    "```python\nnot closed\n", "```py\nx\n``` trailing", "```py\nx\n  ```\ny\n```", "```a`b\nx\n```",
    "Prose <b>tag</b>\n```text\nx\n```", "# Head\n```text\nx\n```", "```text\n    ```\n```", "```text\n```",
    "Text {{ x }}\n```text\nNone\n```", "```text\n~~~\n```", "~~~\n```\n~~~", "<!-- cardgen-digest: 0a1b -->",
    "<!-- a --> <!-- b -->", "<!-- a <b> -->", "<!-- open", "<!-- a -->\ntext",
]


def test_fence_and_comment_parts_lint_as_the_parser_lints_them():
    """A part that is one fenced block (after a plain paragraph or not), or one HTML comment line, is read
    without the block parser, with the parser's result, on every such part of the READMEs the tests hold
    and the edges above."""
    from cardgen.lint import _comment_part, _fence_part

    real = [p for p in every_part() if p[:1] in "`~<" or "\n```" in p]
    fast_ones = read_fast([_fence_part, _comment_part], [*FENCES, *real])
    assert len(fast_ones) > 20 and set(fast_ones) & set(real)


@pytest.mark.parametrize("text, code", [("# A\n\n### C\n", "CG704"), ("Text {{ x }} here\n", "CG705"),
                                         ("See [this](not a url)\n", "CG706"),
                                         ("| a | b |\n|---|---|\n| {{ x }} | 2 |\n", "CG705"),
                                         ("| a | b |\n|---|---|\n| [l](not a url) | 2 |\n", "CG706"),
                                         ("## A\n\n* x\n\n#### C\n", "CG704"),
                                         ("## A\n\n* [x](not a url)\n", "CG706"),
                                         ("Run:\n```\nx\n```\n", "CG703"), ("Say {{ x }}:\n```text\nx\n```\n", "CG705"),
                                         # a code span taken out joins what the check looks for
                                         ("No`x`ne\n", "CG705"), ("See [a]`x`(b) here\n", "CG706")])
def test_problems_in_plain_parts_are_still_found(text, code):
    _lint_part.cache_clear()
    assert code in {p.code for p in lint(text)}


ITEMS = [
    "- U1\n\n  Purpose: **x**  \n  Domain: y\n- U2\n\n  Purpose: z",
    "### Mitigations\n\n- R1\n\n  **Risk**\n\n  - M one\n  - M two\n- R2\n\n  Text",
    "- a\n\n  ```python\n  x = 1\n  ```\n- b", "- a\n\n  ```\n  no label\n  ```", "- a\n\n  ```text\n  open",
    "- a\n\n  | h | i |\n  |---|---|\n  | 1 | 2 | 3 |", "- a\n\n  #### Deep heading", "- a\n\n  # Top\n\n  ### Skip",
    "- a\n\n  <div>\n  text\n  </div>", "- a\n\n  <b>open", "- a\n\n  > quoted", "- a\n lazy one space",
    "- a\nlazy at column 0", "- a\n\n   three spaces", "- a\n\n      indented code", "- a\n  ---", "- - -",
    "* * *\n- x", "- a\n\n  None", "- {{ x }}\n\n  [l](not a url)", "- a\n\n  - b\n\n    - c\n\n      - d",
    "Lead-in words:\n\n- a\n\n  b", "Lead-in\n- a\n\n  b", "# H\n\n\n- a\n\n  b", "- a\n* b\n\n  c",
    "- a\n\n  1. one\n  2. two", "- a\n\n  Para\n  ===", "- a\n\n\n\n  far", "- " + "- " * 12 + "x",
    "- a\n\n  " + "  " * 10 + "- deep", "- a\n\n  [ref]: /url\n\n  text", "- a\n\n  <!-- c -->\n- b",
    # found by an attack: a fence the item's end closes, its last line a 4-column "closer"; a line the parser
    # does not call blank (no-break space), which ends the item
    "- a\n\n  ```\n      ```\n\n- b", "- a\n\n  ```\n      ```\n\n", "- a\n\n  ```\n\u00a0\n  x\n  ```",
    "- a\n\n  b\n\x85\n  c",
]


def test_item_parts_lint_as_the_parser_lints_them():
    """A part that is a bullet list whose items hold blocks (a loose list, nested lists, fences, tables,
    headings, HTML), after a plain lead-in or not, is read item by item without parsing the list, with the
    parser's result, on every such part of the READMEs the tests hold, the edges above, and seeded random
    nested lists, malformed ones included."""
    import random

    from cardgen.lint import _items_part

    rng = random.Random(13)
    words = ["word", "**Bold** text", "[a](https://x.y)", "[a](not url)", "`code`", "None", "{{ x }}", "2024 was",
             "1. n", "Ünï", "x ](", "a <b>c</b>", "*", "-"]

    def block(depth: int) -> list[str]:
        kind = rng.choice(["para", "para", "list", "loose", "fence", "table", "head", "html", "odd", "quote"])
        if kind == "para":
            return [rng.choice(words) for _ in range(rng.randint(1, 3))]
        if kind == "list":
            return [f"{rng.choice('-*')} {rng.choice(words)}" for _ in range(rng.randint(1, 3))]
        if kind == "loose" and depth < 4:
            return items(depth + 1)
        if kind == "fence":
            return [rng.choice(["```python", "```", "~~~text"]), "x = 1", rng.choice(["```", "~~~", "", "  ```"])]
        if kind == "table":
            return ["| h | i |", "|---|---|", rng.choice(["| 1 | 2 |", "| 1 |", "| {{ x }} | 2 |"])]
        if kind == "head":
            return [f"{'#' * rng.randint(1, 6)} {rng.choice(words)}"]
        if kind == "html":
            return [rng.choice(["<div>", "<details>", "<b>open"]), "text", rng.choice(["</div>", "", "</p>"])]
        if kind == "odd":
            return [rng.choice([" one space", "   three", "      code", "---", "===", "\ttab", "- - -"])]
        return ["> quoted"]

    def items(depth: int) -> list[str]:
        rows: list[str] = []
        for _ in range(rng.randint(1, 3)):
            rows.append(f"{rng.choice('-*')} {rng.choice(words)}")
            for _ in range(rng.randint(0, 3)):
                if rng.random() < 0.8:
                    rows.append("")
                rows += ["  " + r if r else "" for r in block(depth)]
        return rows

    made = []
    for _ in range(600):
        lead = rng.choice(["", "", "### Details\n\n", "Lead-in words:\n\n", "# H\n", "Lead\n\n\n"])
        made.append(lead + "\n".join(items(0)))
    real = [p for p in every_part() if "\n  " in p]
    fast_ones = read_fast([_items_part], [*ITEMS, *made, *real])
    assert len(fast_ones) > 200 and set(fast_ones) & set(real)
