"""Code an import carries over from a README as written, named for a reviewer: the python block that
`cardgen smoke` runs (``smoke.snippet.snippet_of``: a card's first one) runs in a process that has the
user's environment, their Hub token included. Import never runs it; it says where it is, and what it
reaches for that a usage example has no need of."""

from __future__ import annotations

import re

from cardgen.importing.imported import Imported

#: what a usage snippet has no need to reach, each with what it is called in the report
_REACHES = (
    ("the environment", re.compile(r"\bos\.environ\b|\bgetenv\b|\benviron\b")),
    ("the Hub token", re.compile(r"HF_TOKEN|HUGGING_FACE_HUB_TOKEN|\bget_token\b|\bHfFolder\b|\btoken\b")),
    ("files it writes", re.compile(r"\bopen\([^)\n]*['\"][wax]\+?b?['\"]|\.write_(?:text|bytes)\(|\bshutil\.")),
    ("other programs", re.compile(r"\bsubprocess\b|\bos\.(?:system|popen|exec\w*|spawn\w*)\b|\bpty\b")),
    ("the network", re.compile(r"\brequests\b|\burllib\b|\bhttp\.client\b|\bsocket\b|\bhttpx\b")),
    ("code it builds", re.compile(r"\bexec\(|\beval\(|\b__import__\(|\bcompile\(|\bpickle\b|\bmarshal\b")),
)


def _first_python_block(lines: list[str]) -> tuple[int, int] | None:
    """Where the block that smoke runs is among ``lines`` (its opening and closing fence lines), found
    as ``snippet_of`` finds it; None when there is none."""
    from cardgen.smoke.snippet import snippet_of

    text = "\n".join(lines)
    code = snippet_of(text)
    if code is None:
        return None
    at = 0
    for k, line in enumerate(lines):
        if line == "```python" and text.startswith(code, at + len(line) + 1):
            end = k + 1 + code.count("\n")
            return k, end
        at += len(line) + 1
    return None


def note_carried_code(top: Imported) -> None:
    """For the card and the card it embeds: the python block that smoke would run on it, reported once
    (in ``code``) where it was carried over from the README."""
    seen: set[int] = set()
    for imp in top.all():
        found = _first_python_block(imp.lines)
        if found is None or found[0] + imp.offset in seen:
            continue
        seen.add(found[0] + imp.offset)
        imp.code.append(_report(imp, *found))


def _report(imp: Imported, start: int, end: int) -> str:
    """The block on the body's lines ``start``..``end`` (its fences): its lines in the README, where the
    sources keep it, and what it reaches for."""
    offset = imp.offset
    claim = next((c for c in imp.claims if c.start <= start < c.end), None)
    if claim is not None and claim.slot == "usage":
        where = f"in {imp.repo_id}/templates/snippets/imported.py.j2"
    elif claim is not None and claim.slot == "base_card" and imp.base is not None:
        where = f"in the sources of {imp.base.repo_id}, its embedded card"
    else:
        where = f"in {imp.repo_id}/card.yaml, as text"
    code = "\n".join(imp.lines[start + 1:end])
    reaches = [what for what, pattern in _REACHES if pattern.search(code)]
    first, last = start + 1 + offset, end + 1 + offset
    out = (f"line {first}: the Python code on lines {first}-{last} is carried over from the README as written "
           f"({where}): `cardgen smoke` runs it with your environment and Hub token; read it before you run smoke")
    if reaches:
        out += "; it reaches for " + ", ".join(reaches)
    return out
