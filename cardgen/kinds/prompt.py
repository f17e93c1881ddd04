"""The documented prompt format: placeholders, filling, the system part, the turn markers.

Used by the rules (placeholders defined and used), the template context (the shown example and the
snippet) and the smoke test (the filled prompt and the markers that must not leak).
"""

from __future__ import annotations

import re

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_template(template: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def split_system(template: str) -> tuple[str, str] | None:
    """(system part, rest) of a template: the system part ends after `{system_message}` and the
    whitespace that follows it. None when the template has no system message."""
    m = re.search(r"\{system_message\}\s*", template)
    if not m:
        return None
    return template[:m.end()], template[m.end():]


def markers(template: str) -> list[str]:
    """The literal pieces of a template that mark turns (e.g. `### User:`, `<|USER|>`)."""
    literal = PLACEHOLDER.sub("\n", template)
    return list(dict.fromkeys(ln.strip() for ln in re.split(r"\n|(?=<\|)", literal) if ln.strip()))


def follows(template: str, text: str) -> bool:
    """Whether ``text`` is ``template`` with each placeholder filled by some text (the literal parts kept)."""
    parts = PLACEHOLDER.split(template)  # literal, name, literal, name, ..., literal
    pattern = "".join(re.escape(p) if i % 2 == 0 else "(.*?)" for i, p in enumerate(parts))
    return re.fullmatch(pattern, text, re.S) is not None


def literals(template: str) -> list[str]:
    """The literal text of a template between its placeholders (whitespace kept)."""
    return [p for i, p in enumerate(PLACEHOLDER.split(template)) if i % 2 == 0 and p]
