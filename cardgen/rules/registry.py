"""The table of rules: each rule's code, kind and function, the decorators that fill it, and what
the rules are given (``Meta``, ``RiskFacts``). The rules live in the modules beside this one; ``run``
imports them all and runs them."""


from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cardgen.diagnostics import CODES, Code, Diagnostic, Severity, Where, declare

if TYPE_CHECKING:
    from cardgen.card import Card
    from cardgen.resolve import Registry  # noqa: F401 - named in ProjectCheck

Path_ = tuple[Any, ...]


@dataclass
class Meta:
    """Front matter under check, and how to find where each of its keys is written."""

    data: dict[str, Any]
    locate: Callable[[Path_], Where]
    body: str | None = None  # the README body, when a published README is checked
    license_written: bool = False  # the sources write a licence (that the schema may have refused)


MetadataCheck = Callable[[Meta], Iterable[tuple[Path_, str]]]
CardCheck = Callable[["Card"], Iterable[tuple[Where, str]]]
ProjectCheck = Callable[["Registry", "list[RiskFacts]"], Iterable[tuple[Where, str]]]


@dataclass(frozen=True)
class Rule:
    code: Code
    kind: Literal["metadata", "card", "project"]
    check: Callable[..., Iterable[tuple[Any, str]]]


RULES: list[Rule] = []


def _register(kind: Literal["metadata", "card", "project"], code: str, title: str, severity: Severity,
              rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        c = CODES[code] if code in CODES and CODES[code].title == title else declare(code, title, severity, rule)
        RULES.append(Rule(c, kind, fn))
        return fn

    return add


def metadata_rule(code: str, title: str, severity: Severity = "error", rule: str = "cardgen") -> Callable[
        [MetadataCheck], MetadataCheck]:
    return _register("metadata", code, title, severity, rule)


def card_rule(code: str, title: str, severity: Severity = "error", rule: str = "cardgen") -> Callable[
        [CardCheck], CardCheck]:
    return _register("card", code, title, severity, rule)


def project_rule(code: str, title: str, severity: Severity = "error", rule: str = "cardgen") -> Callable[
        [ProjectCheck], ProjectCheck]:
    return _register("project", code, title, severity, rule)


def diagnostic(code: Code, where: Where, message: str) -> Diagnostic:
    return Diagnostic(where.file, where.line, where.col, code.code, message, code.severity)


@dataclass(frozen=True)
class RiskFacts:
    """What the project rules need of a card with a risk assessment: the mitigation ids its risks use and
    the mitigations it can name (id -> sentence and where it is written: the file and the path of the node
    in it, placed only for a finding that is reported). Small and plain, so that a run over thousands of
    cards keeps these, not the cards, and the dependency graph stores them in each card folder's record."""

    used: frozenset[str]
    mitigations: tuple[tuple[str, str, tuple[str, tuple[Any, ...]]], ...]


def risk_facts(card: Card) -> RiskFacts | None:
    ra = card.model.risk_assessment
    if not ra:
        return None
    return RiskFacts(frozenset(m for r in ra.risks for m in r.mitigations),
                     tuple((k, str(ref.value), (ref.src.doc_for(ref.path).file, tuple(ref.path)))
                           for k, ref in card.mitigations.items()))
