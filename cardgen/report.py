"""What a command checked, found and did (``Report``), and the reporters that print it.

Every command ends in one ``Report``; ``--format`` picks one of ``REPORTERS`` to print it: text
(``file:line:col: CODE message``), JSON, GitHub workflow annotations or Markdown, in the manner of
check-jsonschema's reporters. A new output format is one ``Reporter`` subclass, registered with
``@reporter``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any, ClassVar, TextIO

from cardgen import console, hubspec
from cardgen.diagnostics import CODES, Diagnostic, counts, one_line, plural, printable
from cardgen.version import __version__


@dataclass(frozen=True)
class Change:
    """A front-matter key whose value differs between the committed README and the rendered one."""

    key: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Drifted:
    """A committed README that differs from what its sources give (`check`, `diff`)."""

    readme: str
    state: str  # missing | out of date
    diff: str
    front_matter: list[Change] = field(default_factory=list)


def as_data(result: Any) -> Any:
    """A result as JSON data: a dataclass by its fields (and ``name`` when it has one as a property)."""
    if is_dataclass(result) and not isinstance(result, type):
        data = asdict(result)
        name = getattr(type(result), "name", None)
        if isinstance(name, property):
            data["name"] = getattr(result, "name")  # noqa: B009 - a property of some result types
        return data
    return result


@dataclass
class Report:
    """What one command checked, found and did; printed by a reporter."""

    command: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    checked: str = ""  # what was looked at, e.g. "6 cards, 1 README"
    results: list[Any] = field(default_factory=list)  # per-target outcomes: dataclasses, each a row of `results`
    lines: list[str] = field(default_factory=list)  # the same outcomes for people (stdout)
    notes: list[str] = field(default_factory=list)  # progress and closing remarks for people (stderr)
    document: Any = None  # an artefact the command produces (export), carried whole by data formats
    # what went wrong beside the diagnostics, counted by kind ({"failed": 2, "skipped": 1}: publish, smoke);
    # the summary names each count that is not zero, so that its last line never says only "0 errors"
    failures: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        e, w = counts(self.diagnostics)
        head = f"{self.checked}: " if self.checked else ""
        failed = "".join(f"{n} {what}, " for what, n in self.failures.items() if n)
        return f"{head}{failed}{plural(e, 'error')}, {plural(w, 'warning')}"


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

        quiet = console.VERBOSITY < 0
        for d in report.diagnostics:
            if quiet and d.severity != "error":
                continue
            rule = CODES[d.code].rule if d.code in CODES else None
            console.write_diagnostic(self.out, one_line(f"{d.file}:{d.line}:{d.col}"), d.code, d.severity,
                                     one_line(d.message), rule)
        tty = getattr(self.out, "isatty", lambda: False)()
        if not quiet:
            _write(self.out, (printable(line) if tty else line for line in report.lines))
            _write(self.err, list(map(printable, report.notes)))
        e, w = counts(report.diagnostics)
        console.write_summary(self.err, report.summary(), e + sum(report.failures.values()), w)


@reporter
class JsonReporter(Reporter):
    """One JSON document: diagnostics (errors and warnings), counts, results, the vocabulary used."""

    name = "json"

    def emit(self, report: Report) -> None:

        e, w = counts(report.diagnostics)
        doc: dict[str, Any] = {
            "command": report.command,
            "cardgen": __version__,
            "vocabulary": hubspec.sources(),
            "checked": report.checked,
            "errors": e,
            "warnings": w,
            "failures": report.failures,
            "diagnostics": [asdict(d) for d in report.diagnostics],
            "results": [as_data(r) for r in report.results],
            "notes": report.notes,
        }
        if report.document is not None:
            doc["document"] = report.document
        self.out.write(json.dumps(_finite(doc), indent=2, ensure_ascii=False, allow_nan=False) + "\n")


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
            if not isinstance(r, Drifted):
                continue
            out += [f"<details><summary><code>{_cell(r.readme)}</code>: {r.state}</summary>", ""]
            if r.front_matter:
                out += ["| front matter | committed | rendered |", "| --- | --- | --- |"]
                out += [f"| `{_cell(c.key)}` | {_value(c.old)} | {_value(c.new)} |" for c in r.front_matter]
                out.append("")
            fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", r.diff)), default=0))
            out += [f"{fence}diff", r.diff.rstrip("\n"), fence, "", "</details>", ""]
        _write(self.out, out)
        _write(self.err, report.notes)


def _finite(v: Any) -> Any:
    """JSON data with every float that JSON cannot hold (NaN, ±infinity: YAML's `.nan`, `.inf`) written as the
    YAML spelling it came from, so that the document stays JSON any parser reads."""
    if isinstance(v, float) and v != v:
        return ".nan"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return ".inf" if v > 0 else "-.inf"
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def _cell(text: str) -> str:
    return printable(str(text)).replace("|", "\\|").replace("\n", " ")


def _value(v: Any) -> str:
    return "—" if v is None else f"`{_cell(json.dumps(v, ensure_ascii=False))}`"


def _gh_escape(s: str, prop: bool = False) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        s = s.replace(":", "%3A").replace(",", "%2C")
    return s
