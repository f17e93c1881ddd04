"""Diagnostics: the one shape every problem takes, its stable codes, and the reporters.

Every check in cardgen reports ``Diagnostic`` values; nothing raises to the user. The reporters
turn a list of them into text (``file:line:col: CODE message``), JSON, or GitHub workflow
annotations, in the manner of check-jsonschema's reporters.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Iterable, Literal

Severity = Literal["error", "warning"]

#: Stable codes. The number says the stage; the text is what `cardgen codes` prints.
CODES: dict[str, str] = {
    # reading a file
    "CG001": "file too large",
    "CG002": "file is not valid UTF-8",
    "CG003": "file is empty",
    "CG004": "YAML syntax error",
    "CG005": "duplicate key",
    "CG006": "document too complex (alias expansion, nesting depth or node count)",
    "CG007": "unsupported YAML tag",
    "CG008": "file cannot be read",
    # schema
    "CG101": "wrong type or invalid value",
    "CG102": "unknown key",
    "CG103": "missing required key",
    # Hub vocabulary
    "CG201": "unknown licence id",
    "CG202": "licence `other` needs license_name and license_link",
    "CG203": "unknown pipeline tag",
    "CG204": "unknown library name",
    "CG205": "unknown language code",
    "CG206": "invalid repo id",
    "CG207": "invalid dataset id",
    "CG208": "licence must be a single id",
    "CG209": "no licence in the metadata",
    "CG210": "invalid base_model_relation",
    "CG211": "typo of a known metadata key",
    "CG212": "the body names another licence than the metadata",
    # references and structure
    "CG301": "dangling reference",
    "CG302": "unknown base card",
    "CG303": "inheritance cycle",
    "CG304": "path escapes the cards folder",
    "CG305": "duplicate id",
    "CG306": "duplicate citation key",
    "CG307": "repository described twice",
    "CG308": "unknown section anchor",
    # prompt format
    "CG401": "placeholder used but not defined",
    "CG402": "placeholder defined but not used",
    "CG403": "stop token id out of range",
    # risk documentation
    "CG601": "malformed risk, use or mitigation id",
    "CG602": "risk without mitigation",
    "CG603": "matrix cell names an undefined risk or use",
    "CG604": "matrix is missing cells",
    "CG605": "mitigation defined but never used",
    "CG606": "near-duplicate mitigation sentences",
    "CG607": "duplicate matrix cell",
    # rendering and output lint
    "CG701": "template error",
    "CG702": "table has inconsistent column counts",
    "CG703": "code fence not closed or not labelled",
    "CG704": "heading skips a level",
    "CG705": "template syntax or None leaked into the output",
    "CG706": "malformed link",
    "CG707": "unbalanced HTML block",
    "CG708": "rendered README differs from the sources",
}


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
        return f"{self.file}:{self.line}:{self.col}: {self.code} {sev}{self.message}"


def error(file: str, pos: tuple[int, int], code: str, message: str) -> Diagnostic:
    return Diagnostic(str(file), pos[0], pos[1], code, message, "error")


def warning(file: str, pos: tuple[int, int], code: str, message: str) -> Diagnostic:
    return Diagnostic(str(file), pos[0], pos[1], code, message, "warning")


def sort_unique(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diags))


def has_errors(diags: Iterable[Diagnostic], strict: bool = False) -> bool:
    return any(d.severity == "error" or strict for d in diags)


def report(diags: list[Diagnostic], fmt: str = "text") -> str:
    """Format diagnostics for output; returns the whole text (possibly empty)."""
    if fmt == "json":
        errors = sum(d.severity == "error" for d in diags)
        return json.dumps(
            {
                "diagnostics": [asdict(d) for d in diags],
                "errors": errors,
                "warnings": len(diags) - errors,
            },
            indent=2,
            ensure_ascii=False,
        )
    if fmt == "github":
        return "\n".join(
            f"::{d.severity} file={_gh_escape(d.file, True)},line={d.line},col={d.col},"
            f"title={d.code}::{_gh_escape(d.message)}"
            for d in diags
        )
    return "\n".join(d.text() for d in diags)


def _gh_escape(s: str, prop: bool = False) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        s = s.replace(":", "%3A").replace(",", "%2C")
    return s
