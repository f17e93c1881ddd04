"""Rules on what a generating card's snippet is fed, checkable without the model: the GGUF file the
snippet downloads is one the card lists, and a sequence-to-sequence snippet's input follows the
documented prompt format (that snippet feeds `usage.message` to the model as it is)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from cardgen.diagnostics import Where
from cardgen.kinds import tasks
from cardgen.kinds.prompt import follows
from cardgen.rules.registry import card_rule
from cardgen.schema import GGUF

if TYPE_CHECKING:
    from cardgen.card import Card

Found = Iterator[tuple[Where, str]]


@card_rule("CG420", "the GGUF file the snippet loads is not one the card lists")
def gguf_usage_file_listed(card: Card) -> Found:
    q, u = card.model.quantization, card.model.usage
    if not isinstance(q, GGUF) or u is None or not u.file:
        return
    listed = [f.file for f in q.files]
    if u.file not in listed:
        yield card.loc("usage", "file"), (f"`usage.file` {u.file!r}, the file the snippet downloads, is not among "
                                          f"`quantization.files` ({', '.join(listed)}): list it, or name a listed one")


@card_rule("CG421", "the sequence-to-sequence snippet's input ignores the documented prompt format")
def seq2seq_input_format(card: Card) -> Found:
    m = card.model
    p, u = m.prompt, m.usage
    if p is None or p.template is None or u is None or u.none is not None or tasks.style_of(m) != "seq2seq":
        return
    if not follows(p.template, u.message):
        where = card.loc("usage", "message") if "message" in u.model_fields_set else card.loc("usage")
        yield where, (f"the seq2seq snippet feeds `usage.message` {u.message!r} to the model as it is, but the "
                      f"documented prompt format is {p.template!r}: write the message in that format")
