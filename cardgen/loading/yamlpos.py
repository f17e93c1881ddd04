"""Load YAML keeping the line and column of every node, and refuse hostile input.

pyyaml composes the node graph (libyaml when available); this module builds the Python values
from it so that it can:

* remember where every key and value is (``Document.pos`` / ``Document.key_pos``);
* report duplicate keys, which pyyaml silently resolves to the last one;
* bound the work: file size, nesting depth and the number of nodes built (an alias bomb such
  as "billion laughs" composes to a small graph but expands exponentially when constructed);
* reject tags other than the plain YAML scalars.

Problems are returned as diagnostics, never raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from cardgen.diagnostics import Diagnostic, Where, error
from cardgen.files import read_text
from cardgen.limits import MAX_INT_DIGITS, MAX_YAML_DEPTH, MAX_YAML_NODES, YAML_COUNT_FROM

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_RESOLVER = yaml.resolver.Resolver()  # the safe loaders' resolver: implicit tags, no path resolvers


@lru_cache(maxsize=65536)
def _resolve(kind: type, value: str, implicit: tuple[bool, bool]) -> str:
    tag: str = _RESOLVER.resolve(kind, value, implicit)
    return tag


class _Loader(_Base):  # type: ignore[valid-type,misc]  # CSafeLoader or SafeLoader
    """The safe loader (libyaml when present), with its tag resolution memoised.

    The safe loader has no path resolvers, so a scalar's tag depends only on its kind, its text and
    whether it was quoted; the same keys and values recur in every card of an organisation.
    """

    resolve = staticmethod(_resolve)  # called by the parser for every node: a C-level cache lookup

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:  # no path resolvers
        pass

    def ascend_resolver(self) -> None:
        pass


_TAG = "tag:yaml.org,2002:"
_SCALAR = yaml.constructor.SafeConstructor()
_PLAIN_TAGS = {"str", "int", "float", "bool", "null", "timestamp", "seq", "map", "merge"}
_PLAIN_FULL = frozenset(_TAG + t for t in _PLAIN_TAGS)
_COLLECTION = frozenset({_TAG + "seq", _TAG + "map"})
#: characters refused in text: C0 controls but tab and newlines, DEL, and the bidirectional overrides
#: that make text read differently from what it is
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_INT_LIMIT = 10 ** MAX_INT_DIGITS
_STR, _INT, _FLOAT, _BOOL, _NULL, _MERGE = (_TAG + t for t in ("str", "int", "float", "bool", "null", "merge"))



@dataclass
class Document:
    """A parsed YAML file: its data and where each node came from (1-based line, column)."""

    file: str
    data: Any
    positions: dict[tuple, tuple[int, int]] | None = field(default_factory=dict)  # None: not built yet
    key_positions: dict[tuple, tuple[int, int]] | None = field(default_factory=dict)
    text: str | None = None  # the source: positions are built from it when first asked for

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes send loaded documents back; the positions are rebuilt from the text
        # only where a diagnostic needs them, which is cheaper than pickling every node's place.
        state = dict(self.__dict__)
        if self.text is not None:
            state["positions"] = state["key_positions"] = None
        return state

    def places(self) -> tuple[dict[tuple[Any, ...], tuple[int, int]], dict[tuple[Any, ...], tuple[int, int]]]:
        """(where each node is, where each mapping key is), by node path; built from the text when first asked for."""
        if self.positions is None or self.key_positions is None:
            doc, _ = loads(self.text or "", self.file, positions=True)
            self.positions, self.key_positions = (doc.positions, doc.key_positions) if doc else ({}, {})
        return self.positions or {}, self.key_positions or {}

    def pos(self, path: tuple[Any, ...] = ()) -> tuple[int, int]:
        """Position of the value at ``path``, or of its nearest ancestor that exists."""
        path = tuple(path)
        positions, _ = self.places()
        while path not in positions and path:
            path = path[:-1]
        return positions.get(path, (1, 1))

    def key_pos(self, path: tuple[Any, ...]) -> tuple[int, int]:
        """Position of the key that holds ``path`` (falls back to the value's)."""
        path = tuple(path)
        _, keys = self.places()
        return keys.get(path) or self.pos(path)


class _TooComplex(Exception):
    def __init__(self, mark: yaml.Mark | None, why: str):
        self.mark, self.why = mark, why


class _Refused(Exception):
    def __init__(self, mark: yaml.Mark, why: str):
        self.mark, self.why = mark, why


class _Builder:
    def __init__(self, file: str, track: bool = False):
        self.file = file
        self.track = track  # record where every node is (only needed when a diagnostic points at one)
        self.nodes = 0
        self.diags: list[Diagnostic] = []
        self.positions: dict[tuple, tuple[int, int]] = {}
        self.key_positions: dict[tuple, tuple[int, int]] = {}
        self.active: set[int] = set()

    @staticmethod
    def _p(mark: yaml.Mark) -> tuple[int, int]:
        return (mark.line + 1, mark.column + 1)

    def build(self, node: yaml.Node, path: tuple, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_YAML_NODES:
            raise _TooComplex(node.start_mark, f"more than {MAX_YAML_NODES} nodes once aliases are expanded")
        if depth > MAX_YAML_DEPTH:
            raise _TooComplex(node.start_mark, f"nesting deeper than {MAX_YAML_DEPTH} levels")
        tag = node.tag
        if tag == _STR and type(node) is yaml.ScalarNode:  # the common case first
            if self.track and path not in self.positions:
                self.positions[path] = self._p(node.start_mark)
            if _CONTROL.search(node.value):
                self._control(node)
            return node.value
        mark = node.start_mark
        if self.track and path not in self.positions:
            self.positions[path] = (mark.line + 1, mark.column + 1)
        if tag not in _PLAIN_FULL:
            raise _Refused(mark, f"unsupported tag {tag!r}: only plain YAML values are read")
        if (tag in _COLLECTION) != (not isinstance(node, yaml.ScalarNode)):
            what = "text" if isinstance(node, yaml.ScalarNode) else "list or mapping"
            raise _Refused(mark, f"tag {tag!r} does not fit a {what}")
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        key = id(node)
        if key in self.active:
            raise _TooComplex(mark, "recursive alias")
        self.active.add(key)
        try:
            if isinstance(node, yaml.SequenceNode):
                if self.track:
                    return [self.build(n, path + (i,), depth + 1) for i, n in enumerate(node.value)]
                return [self.build(n, path, depth + 1) for n in node.value]
            assert isinstance(node, yaml.MappingNode)
            return self._mapping(node, path, depth)
        finally:
            self.active.discard(key)

    def _control(self, node: yaml.Node) -> None:
        ch = _CONTROL.search(node.value).group(0)  # type: ignore[union-attr]
        self.diags.append(error(Where(self.file, *self._p(node.start_mark)), "CG009",
                                f"text holds the control character U+{ord(ch):04X} (invisible, or it changes how the "
                                "text is shown); remove it, or write it as an escape in a double-quoted string"))

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        try:
            if tag == _INT:
                if len(node.value) > 2 * MAX_INT_DIGITS:  # refused unread: base 60 of a long text takes quadratic time
                    raise ValueError(f"more than {MAX_INT_DIGITS} digits")
                number = _SCALAR.construct_yaml_int(node)
                if abs(number) >= _INT_LIMIT:  # hex, octal, binary and base 60 are not bounded by Python's int()
                    raise ValueError(f"more than {MAX_INT_DIGITS} digits")
                return number
            if tag == _FLOAT:
                return _SCALAR.construct_yaml_float(node)
            if tag == _BOOL:
                return _SCALAR.construct_yaml_bool(node)
        except (ValueError, TypeError, KeyError, OverflowError, yaml.YAMLError) as e:
            # an explicit tag on text it does not fit (`!!bool maybe`), or an integer too long to read
            kind = tag.rsplit(":", 1)[-1]
            why = "too long to read" if "digits" in str(e) else f"not a valid {kind}"
            text = node.value if len(node.value) <= 40 else node.value[:40] + "…"
            self.diags.append(error(Where(self.file, *self._p(node.start_mark)), "CG007",
                                    f"{kind} value {text!r} is {why}; write it as a quoted string"))
            return node.value
        if tag == _NULL:
            return None
        return node.value  # timestamps stay the text the author wrote

    def _mapping(self, node: yaml.MappingNode, path: tuple, depth: int) -> dict:
        out: dict = {}
        seen: dict = {}
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        track = self.track
        for knode, vnode in node.value:
            if knode.tag == _MERGE:
                srcs = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
                for src in srcs:
                    if isinstance(src, yaml.MappingNode):
                        merged.extend(src.value)
                continue
            if type(knode) is not yaml.ScalarNode:
                self.diags.append(error(Where(self.file, *self._p(knode.start_mark)), "CG101",
                                        "mapping keys must be plain scalars"))
                continue
            key = knode.value if knode.tag == _STR else self._scalar(knode)
            if key in seen:
                self.diags.append(error(Where(self.file, *self._p(knode.start_mark)), "CG005",
                                        f"duplicate key {key!r} (first at line {seen[key].line + 1}); "
                                        "YAML would silently keep the last one"))
                continue
            seen[key] = knode.start_mark
            if track:
                self.key_positions[path + (key,)] = self._p(knode.start_mark)
                out[key] = self.build(vnode, path + (key,), depth + 1)
            else:
                out[key] = self.build(vnode, path, depth + 1)
        for knode, vnode in merged:  # explicit keys win over merged ones
            if isinstance(knode, yaml.ScalarNode):
                key = self._scalar(knode)
                if key not in out:
                    if track:
                        self.key_positions.setdefault(path + (key,), self._p(knode.start_mark))
                    out[key] = self.build(vnode, path + (key,) if track else path, depth + 1)
        return out


def _count_nodes(text: str) -> tuple[int, int] | None:
    """Where a large document passes MAX_YAML_NODES nodes, from the event stream (composing it first would
    build every node: seconds and hundreds of MB for a 2 MB file of tiny values)."""
    count = 0
    for ev in yaml.parse(text, Loader=_Loader):
        if isinstance(ev, yaml.NodeEvent):
            count += 1
            if count > MAX_YAML_NODES:
                mark = ev.start_mark
                return (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return None


def loads(text: str, file: str, positions: bool = False) -> tuple[Document | None, list[Diagnostic]]:
    """Parse YAML text; returns the document (None when unusable) and the problems found.

    Node positions are recorded when ``positions`` is true, else on the first ``pos()`` call (most
    documents are valid, and then nothing asks where their nodes are)."""
    if not text.strip():
        return None, [error(Where(file), "CG003", "file is empty; expected a YAML mapping")]
    try:
        if len(text) > YAML_COUNT_FROM:
            too_many = _count_nodes(text)
            if too_many:
                return None, [error(Where(file, *too_many), "CG006",
                                    f"document too complex: more than {MAX_YAML_NODES:,} nodes")]
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(x for x in (e.context, e.problem) if x) or "cannot parse"
        if "nesting depth" in what:  # PyYAML >= 6.0.3 bounds the depth itself
            return None, [error(Where(file, *pos), "CG006", f"nesting deeper than {MAX_YAML_DEPTH} levels")]
        return None, [error(Where(file, *pos), "CG004", what)]
    except yaml.YAMLError as e:
        return None, [error(Where(file), "CG004", str(e).splitlines()[0])]
    except RecursionError:
        return None, [error(Where(file), "CG006", f"nesting deeper than {MAX_YAML_DEPTH} levels")]
    if node is None:
        return None, [error(Where(file), "CG003", "file holds no YAML document")]
    b = _Builder(file, track=positions)
    try:
        data = b.build(node, (), 0)
    except _TooComplex as e:
        pos = (e.mark.line + 1, e.mark.column + 1) if e.mark else (1, 1)
        return None, [error(Where(file, *pos), "CG006", f"document too complex: {e.why}")]
    except _Refused as e:
        return None, [error(Where(file, e.mark.line + 1, e.mark.column + 1), "CG007", e.why)]
    except RecursionError:
        return None, [error(Where(file), "CG006", f"nesting deeper than {MAX_YAML_DEPTH} levels")]
    if positions:
        return Document(file, data, b.positions, b.key_positions, text), b.diags
    return Document(file, data, None, None, text), b.diags


def load(path: Path, file: str | None = None) -> tuple[Document | None, list[Diagnostic]]:
    """Read and parse one YAML file."""
    file = file or str(path)
    text, diags = read_text(path, file)
    if text is None:
        return None, diags
    return loads(text, file)


def plain(text: str, file: str) -> tuple[Any, list[Diagnostic]]:
    """The plain data of YAML text, read within the same bounds as a card source (no positions): (the
    value, or None when there is none or it cannot be read; the problems). An empty text is no value and
    no problem. What cardgen reads of other people's YAML that is not a card source (a README's front
    matter, an imported card's shared file) is read here, never with ``yaml.safe_load``."""
    if not text.strip():
        return None, []
    doc, diags = loads(text, file)
    return (None if doc is None else doc.data), diags



class _SourceDumper(yaml.SafeDumper):
    """The writer of card sources a person edits: keys in their order, each value spelled out (no
    aliases), and text over several lines as a literal block (`|`) even where pyyaml would quote it (a
    line ending in spaces, a Markdown hard break, or holding a tab stays as written inside the block),
    wherever the block reads back as the same text."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def analyze_scalar(self, scalar: str) -> Any:
        analysis = super().analyze_scalar(scalar)
        if "\n" in scalar:
            analysis.allow_block = True  # pyyaml's doubt (trailing spaces, tabs): settled by ``_reads_back``
        return analysis


class _Probe(_SourceDumper):
    pass


def _block(dumper: yaml.SafeDumper, s: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style="|")


_Probe.add_representer(str, _block)


def _reads_back(s: str) -> bool:
    """Whether ``s`` written as a literal block is read back as ``s``."""
    try:
        return bool(yaml.load(yaml.dump({"k": s}, Dumper=_Probe, allow_unicode=True, width=10_000),
                              Loader=_Base) == {"k": s})
    except yaml.YAMLError:
        return False


def _text(dumper: yaml.SafeDumper, s: str) -> yaml.ScalarNode:
    # a block pyyaml itself allows reads back; the others (trailing spaces, tabs) are tried
    style = "|" if "\n" in s and (yaml.SafeDumper.analyze_scalar(dumper, s).allow_block or _reads_back(s)) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style=style)


_SourceDumper.add_representer(str, _text)


def dumps(data: Any) -> str:
    """``data`` as YAML sources a person edits (``_SourceDumper``): keys in their order, text over several
    lines as a literal block wherever one reads back the same."""
    return str(yaml.dump(data, Dumper=_SourceDumper, sort_keys=False, allow_unicode=True, width=10_000))


def nodes(text: str, file: str) -> yaml.Node | None:
    """The YAML node graph of a source (each node with its marks: where it starts and ends), for editing
    one value in place; None where ``loads`` refuses the text."""
    doc, _ = loads(text, file)
    return None if doc is None else yaml.compose(text, Loader=_Loader)


def one_line(value: Any, style: str | None = None) -> str | None:
    """``value`` written on one line (a flow collection, or a scalar in ``style``: `'`, `"`, or plain where
    it reads back the same, else double-quoted), as the sources' loader reads it back; None when it cannot
    be one line."""
    for st in dict.fromkeys([style if style in ("'", '"') else None, '"']):
        text = yaml.dump(value, Dumper=_SourceDumper, default_style=st, default_flow_style=True, width=10 ** 9,
                         allow_unicode=True)
        text = text.removesuffix("\n").removesuffix("\n...").rstrip("\n")
        back, diags = plain(text, "value")
        if "\n" not in text and not diags and back == value:
            return text
    return None


def locate(file: str, path: tuple[Any, ...]) -> Where:
    """Where ``path`` is in a source file, read again (for a diagnostic found in another process, or replayed
    from the dependency graph: this module is light, the loader is not)."""
    text, _ = read_text(Path(file), file)
    doc, _ = loads(text, file, positions=True) if text is not None else (None, [])
    return Where(file, *doc.pos(path)) if doc is not None else Where(file)
