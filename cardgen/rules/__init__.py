"""Checks beyond the schema, each one small function registered with its code.

A rule declares its code, title, default severity and the rule it enforces (a Hub rule, with where
the Hub documents it, or cardgen's own), and yields what it finds:

* ``@metadata_rule``: front matter, whether computed from a card or read from a published README;
  the function gets a ``Meta`` and yields ``(path, message)``, the path into the front matter;
* ``@card_rule``: what only sources have (prompt placeholders, citations, section anchors, risks);
  the function gets a resolved ``Card`` and yields ``(where, message)``;
* ``@project_rule``: what needs every card of a cards folder at once (the shared catalogues).

``cardgen codes`` lists the codes from the same table (``diagnostics.CODES``). Adding a Hub rule
is one function here, in the module of its kind, and its test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..diagnostics import CODES, Code, Diagnostic, Severity, Where, declare

if TYPE_CHECKING:
    from ..card import Card
    from ..resolve import Registry

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


def _diag(code: Code, where: Where, message: str) -> Diagnostic:
    return Diagnostic(where.file, where.line, where.col, code.code, message, code.severity)


def check_metadata(meta: Meta) -> list[Diagnostic]:
    """Every metadata rule over one front matter."""
    return [_diag(r.code, meta.locate(path), msg) for r in RULES if r.kind == "metadata"
            for path, msg in r.check(meta)]


def check_card(card: Card) -> list[Diagnostic]:
    """Every card rule (the metadata rules included, over the card's computed front matter)."""
    from .metadata import card_meta

    out = check_metadata(card_meta(card))
    out += [_diag(r.code, where, msg) for r in RULES if r.kind == "card" for where, msg in r.check(card)]
    return out


@dataclass(frozen=True)
class RiskFacts:
    """What the project rules need of a card with a risk assessment: the mitigation ids its risks use and
    the mitigations it can name (id -> sentence and where it is written). Small and plain, so that a
    run over thousands of cards keeps these, not the cards."""

    used: frozenset[str]
    mitigations: tuple[tuple[str, str, Where], ...]


def risk_facts(card: Card) -> RiskFacts | None:
    ra = card.model.risk_assessment
    if not ra:
        return None
    return RiskFacts(frozenset(m for r in ra.risks for m in r.mitigations),
                     tuple((k, str(ref.value), ref.pos()) for k, ref in card.mitigations.items()))


def check_project(registry: Registry, facts: list[RiskFacts]) -> list[Diagnostic]:
    """Every project rule (the shared catalogues against the risk facts of all the cards of a cards folder)."""
    return [_diag(r.code, where, msg) for r in RULES if r.kind == "project"
            for where, msg in r.check(registry, facts)]


# the rule modules register themselves on import
from . import card, kinds, metadata, risks  # noqa: E402

__all__ = ["RULES", "Meta", "RiskFacts", "card", "card_rule", "check_card", "check_metadata", "check_project", "kinds",
           "metadata", "metadata_rule", "project_rule", "risk_facts", "risks"]
