"""Rules on a generating card's prompt facts that the card alone settles, without the model (the smoke
test checks each against the tokenizer too): the GGUF file the snippet downloads is one the card lists;
a sequence-to-sequence snippet's input follows the documented prompt format (that snippet feeds
`usage.message` to the model as it is); a raw template and a chat template shown together format a
conversation alike; `bos: template` agrees with the template's text; a stop string is text the formats
write, or the card's EOS token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from cardgen.diagnostics import Where
from cardgen.kinds import chat, tasks
from cardgen.kinds.prompt import fill_template, follows, literals
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


def _chat_text(card: Card, messages: list[dict[str, str]]) -> str | None:
    """The card's own chat template text applied to ``messages`` (with the card's BOS and EOS texts);
    None when there is none, or it does not render (CG408 says why)."""
    p = card.model.prompt
    if p is None or p.chat_template in (None, chat.FROM_TOKENIZER):
        return None
    assert p.chat_template is not None
    try:
        return chat.render(p.chat_template, messages, p.bos_token, p.eos_token)
    except chat.ChatTemplateError:
        return None


@card_rule("CG422", "the raw template and the chat template format a conversation differently", "warning")
def raw_and_chat_template_agree(card: Card) -> Found:
    p = card.model.prompt
    if p is None or p.template is None or p.chat_template_differs is not None:
        return
    message = "Say hello."
    messages = ([{"role": "system", "content": p.system_prompt}] if p.system_prompt is not None else []) + [
        {"role": "user", "content": message}]
    text = _chat_text(card, messages)
    if text is None:
        return
    raw = fill_template(p.template, {"system_message": p.system_prompt or "", "prompt": message})
    if p.bos == "tokenizer" and p.bos_token and text.startswith(p.bos_token) and not raw.startswith(p.bos_token):
        raw = p.bos_token + raw  # the tokenizer writes it before the raw prompt
    if raw != text:
        at = next((i for i, (a, b) in enumerate(zip(raw, text, strict=False)) if a != b), min(len(raw), len(text)))
        yield card.loc("prompt", "template"), (
            f"`prompt.template` and `prompt.chat_template` format the same conversation differently, from "
            f"character {at}: template {raw[at:at + 24]!r} vs chat template {text[at:at + 24]!r}; make them agree, "
            "or say why in `prompt.chat_template_differs`")


@card_rule("CG423", "the `bos` claim contradicts the template's text")
def bos_claim_in_text(card: Card) -> Found:
    """`bos: template` where the card gives its BOS text: the template must start with it (a template that
    starts with BOS under another claim is CG407's; without the BOS text, the smoke test judges)."""
    p = card.model.prompt
    if p is None or p.bos != "template" or not p.bos_token:
        return
    if p.template is not None:
        what, text = "`prompt.template`", p.template
    else:
        shown = _chat_text(card, chat.snippet_messages(card.model))
        if shown is None:
            return
        what, text = "the chat template's example", shown
    if p.bos == "template" and p.bos_token and not text.startswith(p.bos_token):
        yield card.loc("prompt", "bos"), (
            f"`prompt.bos: template` says the prompt text writes the BOS token, but {what} does not start with "
            f"{p.bos_token!r}: write it there, or set `prompt.bos: tokenizer` (or `none`)")


@card_rule("CG424", "a stop string that the prompt format never writes", "warning")
def stop_strings_written(card: Card) -> Found:
    """Only where the card settles it: it gives its EOS token and a chat template's text (or no chat
    template); a stop string must be the EOS text, or text one of its formats writes."""
    p = card.model.prompt
    if p is None or not p.stop_strings or not p.eos_token or p.chat_template == chat.FROM_TOKENIZER:
        return
    hole = "\ue000"
    written = literals(p.template) if p.template is not None else []
    text = _chat_text(card, [{"role": r, "content": hole} for r in ("system", "user", "assistant", "user")])
    if p.chat_template is not None and text is None:
        return
    written += [t for t in (text or "").split(hole) if t]
    for i, s in enumerate(p.stop_strings):
        key = s.strip()
        if key and key != p.eos_token.strip() and not any(key in t for t in written):
            yield card.loc("prompt", "stop_strings", i), (
                f"stop string {s!r} is never met: neither the prompt format writes it nor is it the EOS token "
                f"{p.eos_token!r}; generation would run to the token limit")
