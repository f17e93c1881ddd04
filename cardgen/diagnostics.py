"""Diagnostics: the one shape every problem takes, the table of codes, the collector, the reporters.

Every stage reports ``Diagnostic`` values into a ``Collector``; nothing raises to the user. A code
is declared once, in ``CODES`` (by ``declare``), with its title, its default severity and the Hub
rule it enforces; the rules in ``cardgen.rules`` declare their own codes beside their functions.
A ``Report`` (what a command checked, found and did) is printed by one of ``REPORTERS``: text
(``file:line:col: CODE message``), JSON, or GitHub workflow annotations, in the manner of
check-jsonschema's reporters. Every command prints through them.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, NamedTuple, TextIO

Severity = Literal["error", "warning"]


class Where(NamedTuple):
    """A place in a file: 1-based line and column."""

    file: str
    line: int = 1
    col: int = 1


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
    # rendering and output lint
    ("CG701", "template error"),
    ("CG708", "rendered README differs from the sources"),
):
    declare(_code, _title)


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
        return printable(f"{self.file}:{self.line}:{self.col}: {self.code} {sev}{self.message}")


_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text safe for a terminal or a CI log: control characters and direction overrides escaped."""
    return _UNPRINTABLE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


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


# -- reports and reporters -------------------------------------------------------------------------
@dataclass
class Report:
    """What one command checked, found and did; printed by a reporter."""

    command: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    checked: str = ""  # what was looked at, e.g. "6 cards, 1 README"
    results: list[dict[str, Any]] = field(default_factory=list)  # per-target outcomes, as data
    lines: list[str] = field(default_factory=list)  # the same outcomes for people (stdout)
    notes: list[str] = field(default_factory=list)  # progress and closing remarks for people (stderr)
    document: Any = None  # an artefact the command produces (export), carried whole by data formats

    def summary(self) -> str:
        e, w = counts(self.diagnostics)
        head = f"{self.checked}: " if self.checked else ""
        return f"{head}{plural(e, 'error')}, {plural(w, 'warning')}"


class Reporter:
    """Prints a report. A new output format is one subclass, registered with ``@reporter``."""

    name: ClassVar[str]

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def emit(self, report: Report) -> None:
        raise NotImplementedError


REPORTERS: dict[str, type[Reporter]] = {}


def reporter(cls: type[Reporter]) -> type[Reporter]:
    REPORTERS[cls.name] = cls
    return cls


def _write(stream: TextIO, lines: Iterable[str]) -> None:
    for line in lines:
        stream.write(line if line.endswith("\n") else line + "\n")


@reporter
class TextReporter(Reporter):
    """`file:line:col: CODE message` lines and the command's own lines on stdout; the summary on stderr."""

    name = "text"

    def emit(self, report: Report) -> None:
        from . import console

        quiet = console.VERBOSITY < 0
        for d in report.diagnostics:
            if quiet and d.severity != "error":
                continue
            rule = CODES[d.code].rule if d.code in CODES else None
            console.write_diagnostic(self.out, printable(f"{d.file}:{d.line}:{d.col}"), d.code, d.severity,
                                     printable(d.message), rule)
        tty = getattr(self.out, "isatty", lambda: False)()
        if not quiet:
            _write(self.out, (printable(line) if tty else line for line in report.lines))
            _write(self.err, list(map(printable, report.notes)))
        console.write_summary(self.err, report.summary(), *counts(report.diagnostics))


@reporter
class JsonReporter(Reporter):
    """One JSON document: diagnostics (errors and warnings), counts, results, the vocabulary used."""

    name = "json"

    def emit(self, report: Report) -> None:
        from . import __version__, hubspec

        e, w = counts(report.diagnostics)
        doc: dict[str, Any] = {
            "command": report.command,
            "cardgen": __version__,
            "vocabulary": hubspec.sources(),
            "checked": report.checked,
            "errors": e,
            "warnings": w,
            "diagnostics": [asdict(d) for d in report.diagnostics],
            "results": report.results,
            "notes": report.notes,
        }
        if report.document is not None:
            doc["document"] = report.document
        self.out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


@reporter
class GithubReporter(Reporter):
    """GitHub Actions workflow commands: one annotation per diagnostic, the rest as plain log lines."""

    name = "github"

    def emit(self, report: Report) -> None:
        _write(self.out, (
            f"::{d.severity} file={_gh_escape(d.file, True)},line={d.line},col={d.col},"
            f"title={d.code}::{_gh_escape(d.message)}"
            for d in report.diagnostics
        ))
        _write(self.out, report.lines)
        _write(self.err, [*report.notes, report.summary()])


@reporter
class MarkdownReporter(Reporter):
    """Markdown for a pull-request comment or a job summary: the counts, the problems as a table, and
    per changed README its front-matter changes (key: old → new) and its diff, collapsed."""

    name = "markdown"

    def emit(self, report: Report) -> None:
        out = [f"### cardgen {report.command}: {report.summary()}", ""]
        if report.diagnostics:
            out += ["| where | code | problem |", "| --- | --- | --- |"]
            out += [f"| `{_cell(d.file)}:{d.line}` | {d.code}{' (warning)' if d.severity == 'warning' else ''} | "
                    f"{_cell(d.message)} |" for d in report.diagnostics]
            out.append("")
        for r in report.results:
            if "diff" not in r:
                continue
            out += [f"<details><summary><code>{_cell(r['readme'])}</code>: {r['state']}</summary>", ""]
            if r.get("front_matter"):
                out += ["| front matter | committed | rendered |", "| --- | --- | --- |"]
                out += [f"| `{_cell(c['key'])}` | {_value(c['old'])} | {_value(c['new'])} |" for c in r["front_matter"]]
                out.append("")
            fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", r["diff"])), default=0))
            out += [f"{fence}diff", r["diff"].rstrip("\n"), fence, "", "</details>", ""]
        _write(self.out, out)
        _write(self.err, report.notes)


def _cell(text: str) -> str:
    return printable(str(text)).replace("|", "\\|").replace("\n", " ")


def _value(v: Any) -> str:
    return "—" if v is None else f"`{_cell(json.dumps(v, ensure_ascii=False))}`"


def _gh_escape(s: str, prop: bool = False) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        s = s.replace(":", "%3A").replace(",", "%2C")
    return s
