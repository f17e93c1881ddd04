"""Literal writers: values written as Python source (the usage snippet), Markdown (tables, cells), BibTeX
and prose with `{name}`-style variables, each the exact text a README shows. The renderer places them;
the importer parses the same shapes back, so both use these functions."""

from __future__ import annotations

import re
from typing import Any

from cardgen.entries import BIBTEX_FIELDS, Citation
from cardgen.kinds.prompt import PLACEHOLDER

NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
               "sixteen seventeen eighteen nineteen twenty".split()


def number_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


_VAR = re.compile(r"\{(name|repo_id|title|url|precision|optimizer|count)\}")


def fill(text: str | None, **values: Any) -> str:
    """Fill the known `{variables}` of prose; any other braces are left as written."""
    if text is None:
        return ""
    return _VAR.sub(lambda m: str(values[m.group(1)]) if values.get(m.group(1)) is not None else m.group(0), text)


def cell(v: Any) -> str:
    if isinstance(v, bool):
        return "Yes" if v else "No"
    if isinstance(v, float):
        return repr(v)
    return str(v).replace("|", "\\|").replace("\n", " ")


def md_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A markdown table, padded so that the source reads well too."""
    head = [cell(c) for c in columns]
    body = [[cell(v) for v in r] + [""] * (len(head) - len(r)) for r in rows]
    widths = [max([len(head[i])] + [len(r[i]) for r in body] + [3]) for i in range(len(head))]

    def line(vals: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"

    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in body])


_PY_ESCAPES = {**{c: f"\\x{c:02x}" for c in range(32)}, ord("\\"): "\\\\", ord('"'): '\\"',
               ord("\n"): "\\n", ord("\t"): "\\t"}


def py_str(s: str) -> str:
    """A double-quoted Python string literal."""
    return '"' + s.translate(_PY_ESCAPES) + '"'


def py_value(v: Any) -> str:
    if isinstance(v, str):
        return py_str(v)
    return repr(v)


def py_fstring(template: str, rename: dict[str, str]) -> str:
    """An f-string literal of ``template`` with its placeholders renamed to Python variables."""
    parts, last = [], 0
    for m in PLACEHOLDER.finditer(template):
        parts.append(py_str(template[last:m.start()])[1:-1].replace("{", "{{").replace("}", "}}"))
        parts.append("{" + rename.get(m.group(1), m.group(1)) + "}")
        last = m.end()
    parts.append(py_str(template[last:])[1:-1].replace("{", "{{").replace("}", "}}"))
    return 'f"' + "".join(parts) + '"'


def py_triple_fstring(template: str) -> str:
    """The body of a triple-quoted f-string showing ``template``, placeholders kept as variables."""
    parts, last = [], 0

    def lit(t: str) -> str:
        t = t.replace("\\", "\\\\").replace("'", "\\'")
        return t.replace("{", "{{").replace("}", "}}")

    for m in PLACEHOLDER.finditer(template):
        parts.append(lit(template[last:m.start()]))
        parts.append(m.group(0))
        last = m.end()
    parts.append(lit(template[last:]))
    return "".join(parts)


def kwargs(pairs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pairs.items())


def bibtex(c: Citation) -> str:
    eq = " = " if c.spaced_equals else "="
    names = c._order or [f for f in BIBTEX_FIELDS if getattr(c, f) is not None]
    fields = []
    for f in names:
        v = getattr(c, f)
        if v is None:
            continue
        if isinstance(v, list):
            v = " and ".join(v)
        fields.append(f"{' ' * c.indent}{f}{eq}{{{v}}}")
    body = ",\n".join(fields) + ("," if c.trailing_comma and fields else "")
    return f"@{c.type}{{{c.key},\n{body}\n}}"
