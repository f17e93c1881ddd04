"""Placing an edit made on the Hub in the values of a card's YAML sources (for ``merge``).

A changed README line is looked for in the text values of the sources: a value (or one line of a block
of text) whose text, with its `{name}`-style variables filled as the card fills them, holds the whole
changed part of the line. The edited text is mapped back word by word, the variables kept where the
edit leaves them whole, and the value written back in place in its own style (a line of a block, a
quoted or plain scalar); an edit that changes a variable's text, or that several values could hold, is
not placed. A changed front-matter value goes to the field that writes it (a list gains or loses the
items the Hub's gained or lost). What cannot be placed is named by the fields it is computed from
(``computed_from``: the card rendered without each field in turn) and where the sources write them.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import yaml

from cardgen.files import display
from cardgen.loading.yamlpos import dumps, nodes, one_line, plain
from cardgen.rendering.literals import fill

#: a line edit of a source file: (first line, line after the last, the lines replacing them)
Edit = tuple[int, int, list[str]]
Edits = dict[Path, list[Edit]]

_VAR = re.compile(r"\{(\w+)\}")
_TOKEN = r"\w+|\s+|[^\w\s]"
_STR = "tag:yaml.org,2002:str"
#: fields that name things (a repository, a base card, a section, a template folder): an edit to the text
#: they show is never placed in them
_IDENTITY = {"repo_id", "extends", "base_model", "id", "after", "templates", "suite"}
#: front-matter keys written by a card field of the same name (the others: `metadata:`)
FIELD_KEYS = ("language", "license", "library_name", "pipeline_tag", "tags", "base_model", "base_model_relation",
              "new_version", "inference", "datasets")


@dataclass(frozen=True)
class Scalar:
    """A text value of a source file: where it sits, how it is written."""

    path: Path
    keys: tuple[Any, ...]
    value: str
    style: str | None
    in_flow: bool
    start: yaml.Mark
    end: yaml.Mark

    def where(self) -> str:
        return f"{display(self.path)}:{self.start.line + 1}"

    def field(self) -> str:
        return ".".join(str(k) for k in self.keys)


def _walk(node: yaml.Node, keys: tuple[Any, ...], path: Path, in_flow: bool, out: list[Scalar]) -> None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            _walk(v, (*keys, k.value), path, in_flow or bool(node.flow_style), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, (*keys, i), path, in_flow or bool(node.flow_style), out)
    elif isinstance(node, yaml.ScalarNode) and node.tag == _STR:
        out.append(Scalar(path, keys, node.value, node.style, in_flow, node.start_mark, node.end_mark))


def scalars(texts: dict[Path, list[str]]) -> list[Scalar]:
    """The text values of the YAML sources among ``texts``."""
    out: list[Scalar] = []
    for path, lines in texts.items():
        if path.suffix in (".yaml", ".yml"):
            root = nodes("\n".join(lines), str(path))
            if root is not None:
                _walk(root, (), path, False, out)
    return out


def unfill(source: str, values: dict[str, str], new: str) -> str | None:
    """The source text that fills to ``new``, from ``source`` (which fills, with ``values``, to the text
    ``new`` edits): aligned word by word, each variable kept where the edit leaves its text whole; None
    when the edit changes a variable's text."""
    atoms: list[tuple[str, str, bool]] = []  # (the text it fills to, the source text, a variable)
    pos = 0
    for m in _VAR.finditer(source):
        if m.group(1) in values:
            atoms += [(t, t, False) for t in re.findall(_TOKEN, source[pos:m.start()])]
            atoms.append((values[m.group(1)], m.group(0), True))
            pos = m.end()
    atoms += [(t, t, False) for t in re.findall(_TOKEN, source[pos:])]
    used = {a[0]: a[1] for a in atoms if a[2] and a[0]}
    pattern = "|".join([*(re.escape(u) for u in sorted(used, key=len, reverse=True)), _TOKEN])
    tokens = re.findall(pattern, new)
    out: list[str] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, [a[0] for a in atoms], tokens, autojunk=False).get_opcodes():
        if op == "equal":
            out += [a[1] for a in atoms[i1:i2]]
        elif any(a[2] for a in atoms[i1:i2]):
            return None
        else:
            out += [used.get(t, t) for t in tokens[j1:j2]]
    return "".join(out)


def _filled(text: str, values: dict[str, str]) -> str | None:
    """``text`` filled as the card fills prose; None when it names a variable whose value is not known here."""
    if any(m.group(1) not in values for m in _VAR.finditer(fill(text, **values))):
        return None
    return fill(text, **values)


def _rewrite(texts: dict[Path, list[str]], s: Scalar, index: int, new_line: str) -> Edit | None:
    """The edit writing line ``index`` of the value ``s`` as ``new_line``, in place and in its style."""
    lines = texts[s.path]
    value_lines = s.value.split("\n")
    if s.style == "|" and s.start.line < s.end.line:
        at = s.start.line + 1 + index
        old = lines[at] if at < len(lines) else ""
        indent = old[: len(old) - len(old.lstrip(" "))]
        if old[len(indent):] != value_lines[index].lstrip(" ") or not indent or "\n" in new_line:
            return None
        return at, at + 1, [indent + new_line.lstrip(" ") if new_line.strip() else ""]
    if s.start.line != s.end.line or len(value_lines) != 1:
        return None
    text = one_line(new_line, '"' if s.in_flow and s.style not in ("'", '"') else s.style)
    if text is None:
        return None
    line = lines[s.start.line]
    return s.start.line, s.start.line + 1, [line[: s.start.column] + text + line[s.end.column:]]


def _covers(a: int, b: int, lo: int, hi: int, size: int) -> bool:
    """Whether the text at [a, b) of a line of ``size`` holds its change at [lo, hi): a text inserted at
    the edge of a value belongs to it only where the line has nothing on that side."""
    if lo < hi:
        return a <= lo and hi <= b
    return a < lo < b or lo == b == size or lo == a == 0


def place_line(texts: dict[Path, list[str]], old: str, new: str, values: dict[str, str]) -> tuple[Path, Edit] | str:
    """Where the README line ``old``, edited to ``new``, is held: the edit of a text value of the sources
    (the file and the edit), or why it cannot be placed."""
    p = 0
    while p < min(len(old), len(new)) and old[p] == new[p]:
        p += 1
    s = 0
    while s < min(len(old), len(new)) - p and old[-1 - s] == new[-1 - s]:
        s += 1
    lo, hi = p, len(old) - s
    found: dict[tuple[Path, tuple[Any, ...], int], tuple[Scalar, int, str, int, int]] = {}
    for sc in scalars(texts):
        if _IDENTITY & set(sc.keys):
            continue
        for index, vline in enumerate(sc.value.split("\n")):
            shown = _filled(vline, values)
            if shown is None or len(shown.strip()) < 3:
                continue
            k = old.find(shown)
            while k >= 0:
                if _covers(k, k + len(shown), lo, hi, len(old)):
                    edited = new[k: len(new) - (len(old) - k - len(shown))]
                    found.setdefault((sc.path, sc.keys, index), (sc, index, edited, k, k + len(shown)))
                k = old.find(shown, k + 1)
    if not found:
        return "no text of the sources holds it"
    # the widest: a value shown inside another (through a variable, or by chance) is the other's text here
    sc, index, edited, a, b = max(found.values(), key=lambda f: f[4] - f[3])
    if any(not (a <= f[3] and f[4] <= b) for f in found.values()):
        named = ", ".join(f"`{f[0].field()}` ({f[0].where()})" for f in found.values())
        return f"several fields could hold it: {named}"
    source = unfill(sc.value.split("\n")[index], values, edited)
    if source is None:
        return f"it changes a variable that `{sc.field()}` ({sc.where()}) fills in: edit the variable's own field"
    edit = _rewrite(texts, sc, index, source)
    if edit is None:
        return f"`{sc.field()}` ({sc.where()}) is written over several lines: edit it there"
    return sc.path, edit


def _node_at(root: yaml.Node | None, keys: tuple[str, ...]) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key node, value node) at ``keys`` of a mapping document."""
    found = None
    for k in keys:
        if not isinstance(root, yaml.MappingNode):
            return None
        found = next(((kn, vn) for kn, vn in root.value if kn.value == k), None)
        if found is None:
            return None
        root = found[1]
    return found


def _after(root: yaml.Node | None, key: str, lines: list[str]) -> int:
    """Where a new top-level field goes: after the one card.yaml holds that the front matter writes before
    it, else at the end."""
    from cardgen.frontmatter import KEY_ORDER

    before = KEY_ORDER[: KEY_ORDER.index(key)] if key in KEY_ORDER else []
    for k in reversed(before):
        if (at := _node_at(root, (k,))) is not None:
            v = at[1]
            return v.end_mark.line + (1 if v.end_mark.column or v.start_mark.line == v.end_mark.line else 0)
    return len(lines) - (1 if lines and not lines[-1] else 0)  # before the file's last line end


def _new_value(current: Any, old: Any, new: Any) -> Any:
    """The field's value that renders ``new`` where it rendered ``old``; ``KeyError`` when none can be
    told (a list gains what the Hub's gained and loses what it lost, which it must hold)."""
    if current == old:
        return new
    if isinstance(current, list) and isinstance(old, list) and isinstance(new, list):
        lost = [x for x in old if x not in new]
        if all(x in current for x in lost):
            return [x for x in current if x not in lost] + [x for x in new if x not in old and x not in current]
    raise KeyError


def place_front_matter(texts: dict[Path, list[str]], card_yaml: Path, key: str, old: Any, new: Any) -> \
        tuple[Path, Edit] | str:
    """A front-matter key the Hub changed, placed in the card's own card.yaml (its field of the same name, or
    `metadata:`), or why not."""
    lines = texts.get(card_yaml)
    if lines is None:
        return "the card has no card.yaml of its own"
    text = "\n".join(lines)
    root = nodes(text, str(card_yaml))
    data, _ = plain(text, str(card_yaml))
    if not isinstance(data, dict):
        return "card.yaml is not a mapping"
    keys = (key,) if key in FIELD_KEYS and not isinstance(data.get(key), dict) else ("metadata", key)
    if key in ("license_name", "license_link") and isinstance(data.get("license"), dict):
        keys = ("license", key.removeprefix("license_"))
    elif key == "license" and isinstance(data.get("license"), dict):
        keys = ("license", "id")
    at = _node_at(root, keys)
    if at is None:
        if old is not None or keys[0] == "metadata" or key in data or new is None:
            return f"no field `{'.'.join(keys)}` of card.yaml writes it"
        at_line = _after(root, key, lines)
        return card_yaml, (at_line, at_line, dumps({key: new}).rstrip("\n").split("\n"))
    knode, vnode = at
    current: Any = data
    for k in keys:
        current = current.get(k) if isinstance(current, dict) else None
    try:
        value = _new_value(current, old, new)
    except KeyError:
        return f"`{'.'.join(keys)}` ({display(card_yaml)}:{knode.start_mark.line + 1}) does not write it as it is"
    flow = not isinstance(vnode, (yaml.MappingNode, yaml.SequenceNode)) or vnode.flow_style
    one_line_value = vnode.start_mark.line == vnode.end_mark.line
    end = vnode.end_mark.line + (1 if vnode.end_mark.column or one_line_value else 0)
    if value is None:  # the key gone on the Hub: gone from card.yaml
        return card_yaml, (knode.start_mark.line, end, [])
    if flow and one_line_value:
        written = one_line(value, getattr(vnode, "style", None)) if value is not None else "null"
        if written is not None:
            line = lines[vnode.start_mark.line]
            return card_yaml, (vnode.start_mark.line, vnode.start_mark.line + 1,
                               [line[: vnode.start_mark.column] + written + line[vnode.end_mark.column:]])
    pad = " " * knode.start_mark.column
    block = [pad + x if x else x for x in dumps({keys[-1]: value}).rstrip("\n").split("\n")]
    return card_yaml, (knode.start_mark.line, end, block)


def computed_from(render: Callable[[Path, Path], str | None], root: Path, card_yaml: Path, source: str,
                  gone: Callable[[str], bool]) -> list[str]:
    """The fields of card.yaml that a part of the README is computed from, each `field (file:line)`
    (``gone(README)``: whether that part is not as it was):
    the card rendered (``render(cards folder, card folder)``, on a copy of the cards folder ``root``)
    without each top-level field, then without each key of a field that is a mapping; a field is named
    when the line goes with it."""
    from cardgen.loading.yamlpos import loads

    doc, _ = loads(source, card_yaml.name)
    if doc is None or not isinstance(doc.data, dict):
        return []
    found: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="cardgen-merge-") as tmp:
        copy = Path(tmp) / root.name
        shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        target = copy / card_yaml.relative_to(root)

        def without(path: tuple[str, ...]) -> bool:
            trimmed = _without(doc.data, path)
            target.write_text(dumps(trimmed), encoding="utf-8")
            text = render(copy, target.parent)
            return text is not None and gone(text)

        for key, value in doc.data.items():
            if key in ("repo_id", "suite") or not without((key,)):
                continue
            inner = [(key, k) for k in value if without((key, k))] if isinstance(value, dict) else []
            found += inner or [(key,)]
    return [f"`{'.'.join(p)}` ({display(card_yaml)}:{doc.key_pos(p)[0]})" for p in found]


def _without(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    if len(path) == 1:
        return {k: v for k, v in data.items() if k != path[0]}
    return {k: (_without(v, path[1:]) if k == path[0] else v) for k, v in data.items()}
