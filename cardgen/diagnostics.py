"""Diagnostics: the one shape every problem takes, the table of codes, the collector.

Every stage reports ``Diagnostic`` values into a ``Collector``; nothing raises to the user. A code
is declared once, in ``CODES`` (by ``declare``), with its title, its default severity and the Hub
rule it enforces; the rules in ``cardgen.rules`` declare their own codes beside their functions.
What a command checked, found and did is a ``report.Report``, printed by one of its reporters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

Severity = Literal["error", "warning"]


class Where(NamedTuple):
    """A place in a file: 1-based line and column."""

    file: str
    line: int = 1
    col: int = 1


class UsageError(Exception):
    """What the user asked cannot be done as asked (a wrong argument, a path with nothing to check, a broken
    policy file, a missing optional extra): the command exits 2 with this one line, never a traceback."""


@dataclass(frozen=True)
class Code:
    """A diagnostic code: what it means, how severe it is by default, and which rule it enforces."""

    code: str
    title: str
    severity: Severity = "error"
    rule: str = "cardgen"  # the Hub rule (and where the Hub documents it), or "cardgen" for our own


#: Every code, in the order `cardgen codes` lists them. The number says the stage.
CODES: dict[str, Code] = {}


def declare(code: str, title: str, severity: Severity = "error", rule: str = "cardgen") -> Code:
    """Add a code to the table (once); returns it."""
    if code in CODES and CODES[code] != Code(code, title, severity, rule):
        raise ValueError(f"diagnostic code {code} is declared twice")
    CODES[code] = Code(code, title, severity, rule)
    return CODES[code]


for _code, _title in (
    # reading a file
    ("CG001", "file too large"),
    ("CG002", "file is not valid UTF-8"),
    ("CG003", "file is empty"),
    ("CG004", "YAML syntax error"),
    ("CG005", "duplicate key"),
    ("CG006", "document too complex (alias expansion, nesting depth or node count)"),
    ("CG007", "unsupported YAML tag"),
    ("CG008", "file cannot be read"),
    ("CG009", "control character in text"),
    # schema
    ("CG101", "wrong type or invalid value"),
    ("CG102", "unknown key"),
    ("CG103", "missing required key"),
    # references and structure
    ("CG301", "dangling reference"),
    ("CG302", "unknown base card"),
    ("CG303", "inheritance cycle"),
    ("CG304", "path escapes the cards folder"),
    ("CG305", "duplicate id"),
    ("CG307", "repository described twice"),
    ("CG311", "card not rendered: a file it is built from, outside the paths given, has errors"),
    ("CG312", "the paths given select card folders but no README is rendered from them"),
    # rendering and output lint
    ("CG701", "template error"),
    ("CG708", "rendered README differs from the sources"),
):
    declare(_code, _title)
declare("CG010", "the dependency graph's store cannot be used; the run goes on without it", "warning")


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    col: int
    code: str
    message: str
    severity: Severity = "error"

    def text(self) -> str:
        sev = "" if self.severity == "error" else "warning: "
        return one_line(f"{self.file}:{self.line}:{self.col}: {self.code} {sev}{self.message}")


_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text safe for a terminal or a CI log: control characters and direction overrides escaped."""
    return _UNPRINTABLE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def one_line(text: str) -> str:
    """``printable``, and a line break escaped too: what is one line stays one (a path or a message from a
    card cannot start a line of its own, such as a GitHub workflow command)."""
    return printable(text).replace("\r", "\\r").replace("\n", "\\n")


def error(where: Where, code: str, message: str) -> Diagnostic:
    return Diagnostic(where.file, where.line, where.col, code, message, "error")


def warning(where: Where, code: str, message: str) -> Diagnostic:
    return Diagnostic(where.file, where.line, where.col, code, message, "warning")


def sort_unique(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diags))


class Collector:
    """Where the stages of one run report their problems."""

    def __init__(self, diags: Iterable[Diagnostic] = ()) -> None:
        self._items: list[Diagnostic] = list(diags)

    def add(self, diag: Diagnostic) -> None:
        self._items.append(diag)

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self._items.extend(diags)

    def error(self, where: Where, code: str, message: str) -> None:
        self._items.append(error(where, code, message))

    def warning(self, where: Where, code: str, message: str) -> None:
        self._items.append(warning(where, code, message))

    def keep(self, predicate: Any) -> None:
        """Keep only the diagnostics whose file the predicate accepts."""
        self._items = [d for d in self._items if predicate(d.file)]

    def __len__(self) -> int:
        return len(self._items)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Sorted, each once."""
        return sort_unique(self._items)

    def files_with_errors(self) -> set[str]:
        return {d.file for d in self._items if d.severity == "error"}


def failed(diags: Iterable[Diagnostic], strict: bool = False) -> bool:
    """Whether the diagnostics fail a run (any error; with ``strict``, any warning too)."""
    return any(d.severity == "error" or strict for d in diags)


def counts(diags: Iterable[Diagnostic]) -> tuple[int, int]:
    """(errors, warnings)."""
    diags = list(diags)
    errors = sum(d.severity == "error" for d in diags)
    return errors, len(diags) - errors


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"
