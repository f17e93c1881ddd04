"""Rules on derived repositories: a quantised card (`base_model_relation: quantized`, or a card with a
`quantization:` table) is its base's weights in another format, so it keeps its base's licence, chat
template and stops unless it says why (the licence's `statement`, `prompt.chat_template_differs`).

Both are warnings: the Hub accepts such a repo and shows it as it is. The policy `cardgen init` writes
raises them to errors (a publisher's choice, like every rule stricter than the Hub's), and `--strict` fails
on them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from cardgen.diagnostics import Where
from cardgen.rules.registry import card_rule

if TYPE_CHECKING:
    from cardgen.card import Card

Found = Iterator[tuple[Where, str]]


def quantized(card: Card) -> bool:
    """A card of its base's weights in another format."""
    return card.model.base_model_relation == "quantized" or card.model.quantization is not None


def _own(card: Card, name: str) -> bool:
    return card.origin.get(name, card.src) is card.src and name in card.src.data


@card_rule("CG506", "a quantised card's licence differs from its base's", "warning")
def quantized_licence(card: Card) -> Found:
    if not (card.base and quantized(card) and card.license and card.base.license and _own(card, "license")):
        return
    mine, theirs = card.license.value, card.base.license.value
    if (mine.id, mine.name) != (theirs.id, theirs.name) and not mine.statement:
        yield card.loc("license"), (f"licence {mine.name or mine.id!r} differs from {card.base.repo_id}'s "
                                    f"{theirs.name or theirs.id!r} ({card.base.src.file}): quantised weights keep "
                                    "their base's licence; remove `license` to inherit it, or say why in its "
                                    "`statement`")


@card_rule("CG507", "a quantised card's chat template or stops differ from its base's", "warning")
def quantized_prompt(card: Card) -> Found:
    if not (card.base and quantized(card) and _own(card, "prompt")):
        return
    mine, theirs = card.model.prompt, card.base.model.prompt
    if mine is None or theirs is None or mine.chat_template_differs:
        return
    base_file = card.base.src.file
    own = card.src.data.get("prompt")
    written = own if isinstance(own, dict) else {}
    if mine.chat_template and theirs.chat_template and mine.chat_template != theirs.chat_template:
        yield card.loc("prompt", "chat_template"), (
            f"the chat template differs from {card.base.repo_id}'s ({base_file}): quantised weights are prompted "
            "as their base is; remove it to inherit the base's, or say why in `prompt.chat_template_differs`")
    if "stop_token_ids" in written and theirs.stop_token_ids and \
            sorted(mine.stop_token_ids) != sorted(theirs.stop_token_ids):
        yield card.loc("prompt", "stop_token_ids"), (
            f"stop_token_ids {mine.stop_token_ids} differ from {card.base.repo_id}'s {theirs.stop_token_ids} "
            f"({base_file}); say why in `prompt.chat_template_differs`")
