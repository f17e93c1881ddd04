"""Run the rules: every rule module is imported here (each registers its rules on import), so that
whoever runs them, or lists their codes (`cardgen codes`), sees the whole table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cardgen.evals.rules  # noqa: F401 - the evaluation results' rules
import cardgen.rules.card  # noqa: F401 - each rule module registers its rules on import
import cardgen.rules.derived  # noqa: F401
import cardgen.rules.kinds  # noqa: F401
import cardgen.rules.metadata  # noqa: F401
import cardgen.rules.risks  # noqa: F401
import cardgen.rules.usage  # noqa: F401
from cardgen.diagnostics import Diagnostic
from cardgen.rules.registry import RULES, Meta, RiskFacts, diagnostic, risk_facts

if TYPE_CHECKING:
    from cardgen.card import Card
    from cardgen.resolve import Registry


def check_metadata(meta: Meta) -> list[Diagnostic]:
    """Every metadata rule over one front matter."""
    return [diagnostic(r.code, meta.locate(path), msg) for r in RULES if r.kind == "metadata"
            for path, msg in r.check(meta)]


def check_card(card: Card) -> list[Diagnostic]:
    """Every card rule (the metadata rules included, over the card's computed front matter)."""
    from cardgen.rules.metadata import card_meta

    out = check_metadata(card_meta(card))
    out += [diagnostic(r.code, where, msg) for r in RULES if r.kind == "card" for where, msg in r.check(card)]
    return out


def check_project(registry: Registry, facts: list[RiskFacts]) -> list[Diagnostic]:
    """Every project rule (the shared catalogues against the risk facts of all the cards of a cards folder)."""
    return [diagnostic(r.code, where, msg) for r in RULES if r.kind == "project"
            for where, msg in r.check(registry, facts)]


__all__ = ["Meta", "RiskFacts", "check_card", "check_metadata", "check_project", "risk_facts"]
