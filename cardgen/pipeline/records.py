"""The dependency graph's records, typed, and the JSON the store (``graph.Store``) keeps of them.

A card folder's ``Record`` says what its READMEs were built from and what building them gave: a
``Rendered`` per card (its README's hash, or none when it was not rendered) and a ``Target`` per
repository it describes. A ``Memo`` is a (key, diagnostics) pair kept for a whole scope: what the
shared sources gave, keyed by their hash, and what the catalogue rules gave, keyed by what they read.

In memory these are always the typed values; ``to_json`` writes the JSON form and ``from_json`` reads
it back. What is read back is checked shape by shape: a value that is not what ``to_json`` writes (a
damaged store, one from an older cardgen) reads as None, and its folder is rebuilt, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from typing import Any, TypeVar

from cardgen.diagnostics import Diagnostic
from cardgen.rules.registry import RiskFacts

T = TypeVar("T")

#: a place in a source file: (file, path of a node in it)
Place = tuple[str, tuple[Any, ...]]


def diag_out(d: Diagnostic) -> list[Any]:
    return list(astuple(d))


def diag_in(v: Any) -> Diagnostic | None:
    """A diagnostic read back, or None when the value is not one."""
    if (isinstance(v, list) and len(v) == 6 and isinstance(v[0], str) and _int(v[1]) and _int(v[2])
            and isinstance(v[3], str) and isinstance(v[4], str) and v[5] in ("error", "warning")):
        return Diagnostic(*v)
    return None


def path_in(v: Any) -> tuple[Any, ...] | None:
    """The path of a node (keys and indexes) read back from JSON as the tuple it was, or None."""
    if isinstance(v, list) and all(isinstance(x, str) or _int(x) for x in v):
        return tuple(v)
    return None


def _each(read: Callable[[Any], T | None], v: Any) -> list[T] | None:
    """Each item of a JSON list read back, or None when it is not a list or an item does not read."""
    if not isinstance(v, list):
        return None
    out = []
    for x in v:
        item = read(x)
        if item is None:
            return None
        out.append(item)
    return out


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _strings(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _texts(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


@dataclass(frozen=True)
class Rendered:
    """One card of a folder: its repo id, the hash of its README (None: not rendered, for errors), what
    rendering and linting it found, the source files its content came from and where its repo id is
    written."""

    repo: str
    digest: str | None
    diags: list[Diagnostic]
    files: list[str]  # sorted
    where: Place
    extras: dict[str, str] = field(default_factory=dict)  # files written beside the README (`.eval_results/`)

    def to_json(self) -> list[Any]:
        return [self.repo, self.digest, [diag_out(d) for d in self.diags], self.files,
                [self.where[0], list(self.where[1])], self.extras]

    @classmethod
    def from_json(cls, v: Any) -> Rendered | None:
        if not (isinstance(v, list) and len(v) == 6):
            return None
        repo, digest, diags, files, where, extras = v
        if not (_str(repo) and (digest is None or _str(digest)) and _strings(files)
                and isinstance(where, list) and len(where) == 2 and _str(where[0]) and _texts(extras)):
            return None
        found, path = _each(diag_in, diags), path_in(where[1])
        return None if found is None or path is None else cls(repo, digest, found, files, (where[0], path), extras)


@dataclass(frozen=True)
class Target:
    """A repository a folder's card source describes, and where its repo id is written (file, path)."""

    repo: str
    file: str
    path: tuple[Any, ...]

    def to_json(self) -> list[Any]:
        return [self.repo, self.file, list(self.path)]

    @classmethod
    def from_json(cls, v: Any) -> Target | None:
        if not (isinstance(v, list) and len(v) == 3 and _str(v[0]) and _str(v[1])):
            return None
        path = path_in(v[2])
        return None if path is None else cls(v[0], v[1], path)


def facts_out(f: RiskFacts) -> list[Any]:
    return [sorted(f.used), [[k, text, file, list(path)] for k, text, (file, path) in f.mitigations]]


def facts_in(v: Any) -> RiskFacts | None:
    """A card's risk facts read back (``facts_out``), or None."""
    if not (isinstance(v, list) and len(v) == 2 and _strings(v[0]) and isinstance(v[1], list)):
        return None
    out = []
    for m in v[1]:
        if not (isinstance(m, list) and len(m) == 4 and _str(m[0]) and _str(m[1]) and _str(m[2])):
            return None
        path = path_in(m[3])
        if path is None:
            return None
        out.append((m[0], m[1], (m[2], path)))
    return RiskFacts(frozenset(v[0]), tuple(out))


@dataclass(frozen=True)
class Record:
    """What one card folder's run was built from and what it gave (see ``graph``)."""

    files: list[str]  # the names of its card sources
    own: list[str]  # its own inputs (files in the folder, `dir:` template folders in it)
    set_id: str  # the common set of its other inputs, by id (``Store.sets``)
    digest: str  # the hash of every input: the record holds while they hash the same
    diags: list[Diagnostic]  # what loading and checking its cards found
    errors: bool  # any error, in those or in rendering: the folder is built again next time
    rendered: list[Rendered]
    targets: list[Target]
    facts: list[RiskFacts]  # what the catalogue rules need of each of its cards with a risk assessment

    @property
    def risk(self) -> bool:
        """A card of the folder carries a risk assessment (the catalogue rules read its facts)."""
        return bool(self.facts)

    def to_json(self) -> dict[str, Any]:
        return {"files": self.files, "own": self.own, "set": self.set_id, "digest": self.digest,
                "diags": [diag_out(d) for d in self.diags], "errors": self.errors,
                "rendered": [r.to_json() for r in self.rendered], "targets": [t.to_json() for t in self.targets],
                "facts": [facts_out(f) for f in self.facts]}

    @classmethod
    def from_json(cls, v: Any) -> Record | None:
        if not (isinstance(v, dict) and all(ok(v.get(k)) for k, ok in _RECORD.items())):
            return None
        diags = _each(diag_in, v["diags"])
        rendered = _each(Rendered.from_json, v["rendered"])
        targets = _each(Target.from_json, v["targets"])
        facts = _each(facts_in, v.get("facts"))
        if diags is None or rendered is None or targets is None or facts is None:
            return None
        return cls(v["files"], v["own"], v["set"], v["digest"], diags, v["errors"], rendered, targets, facts)

    @classmethod
    def from_sealed(cls, v: Any) -> Record | None:
        """A record read back from a store that sealed it (``store.Store``): the seal says this very cardgen
        wrote it (the store is emptied when cardgen's code changes), so it is rebuilt without the checks
        of ``from_json``, several times faster; a value that still does not fit reads as None."""
        try:
            facts = [RiskFacts(frozenset(f[0]), tuple((m[0], m[1], (m[2], tuple(m[3]))) for m in f[1]))
                     for f in v["facts"]]
            rendered = [Rendered(r[0], r[1], [Diagnostic(*d) for d in r[2]], r[3], (r[4][0], tuple(r[4][1])), r[5])
                        for r in v["rendered"]]
            return cls(
                v["files"], v["own"], v["set"], v["digest"], [Diagnostic(*d) for d in v["diags"]], v["errors"],
                rendered, [Target(t[0], t[1], tuple(t[2])) for t in v["targets"]], facts)
        except (TypeError, KeyError, IndexError, ValueError):
            return None


#: the plain fields of a record's JSON, and how each is checked (the lists of values are read item by item)
_RECORD: dict[str, Callable[[Any], bool]] = {"files": _strings, "own": _strings, "set": _str, "digest": _str,
                                             "errors": _bool}


@dataclass(frozen=True)
class Memo:
    """What a check over a whole scope gave (its diagnostics), and the key of what it read: the
    diagnostics stay good while the key is the same."""

    key: str
    diags: list[Diagnostic]

    def to_json(self) -> list[Any]:
        return [self.key, [diag_out(d) for d in self.diags]]

    @classmethod
    def from_json(cls, v: Any) -> Memo | None:
        if not (isinstance(v, list) and len(v) == 2 and _str(v[0])):
            return None
        diags = _each(diag_in, v[1])
        return None if diags is None else cls(v[0], diags)
