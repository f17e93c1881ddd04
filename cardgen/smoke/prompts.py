"""What a generating card (causal, chat, seq2seq) says about its prompt, each fact against the artefact
that holds it: the BOS and EOS texts against the tokenizer's, the `bos` claim against what the
tokenizer's `encode` and the template do, every listed marker one token, every stop string text that
the template writes or an end-of-turn token of the model, and the seq2seq snippet's input in the
documented format. Each finding is one failure, with its code (``smoke.codes``)."""

from __future__ import annotations

import re
from typing import Any

from cardgen.card import Card
from cardgen.kinds import chat
from cardgen.kinds.prompt import fill_template, follows, literals
from cardgen.schema import Prompt
from cardgen.smoke import codes
from cardgen.smoke.result import SmokeResult

#: a message content no template writes itself: the rendered text around it is the template's own
HOLE = "\ue000"
#: what each `bos` claim says, as the README words it
CLAIMS = {"tokenizer": "the tokenizer adds BOS when it encodes, and the prompt text does not write it",
          "template": "the prompt text writes BOS itself", "none": "no BOS is used"}


def check_markers(p: Prompt, tok: Any, r: SmokeResult) -> None:
    """Every marker the card lists in `special_tokens` is one token of the tokenizer."""
    before = len(r.failures)
    for special in p.special_tokens:
        enc = tok.encode(special, add_special_tokens=False)
        if len(enc) != 1:
            r.fail(codes.MARKER, f"{special!r} should be one special token but tokenises into {len(enc)}: {enc}")
    r.check("special tokens", before)


def check_special_texts(p: Prompt, tok: Any, r: SmokeResult) -> None:
    """The card's `bos_token` and `eos_token` are the tokenizer's; a chat template written in the card that
    writes one must be given it (the README's example fills the template with the card's)."""
    before = len(r.failures)
    text = p.chat_template if p.chat_template not in (None, chat.FROM_TOKENIZER) else ""
    for name in ("bos_token", "eos_token"):
        mine, theirs = getattr(p, name), getattr(tok, name, None)
        what = name[:3].upper()
        if mine is not None and mine != theirs:
            r.fail(codes.SPECIAL_TEXT, f"`prompt.{name}` is {mine!r}, but the tokenizer's {what} token is "
                   + (f"{theirs!r}" if theirs else "not set") + " (tokenizer_config.json `" + name + "`)")
        elif mine is None and theirs and text and re.search(rf"\b{name}\b", text or ""):
            r.fail(codes.SPECIAL_TEXT, f"the card's chat template writes `{name}`, which the card does not give: "
                   f"the README's example shows it empty where the tokenizer writes {theirs!r}; set "
                   f"`prompt.{name}: {theirs!r}`")
    r.check("BOS and EOS texts", before)


def chat_template_tokens(p: Prompt, tok: Any) -> tuple[str | None, str | None]:
    """The BOS and EOS texts the card's chat template is rendered with, as the README renders it: the
    card's own, else the tokenizer's (a missing or wrong one is ``check_special_texts``' finding)."""
    return (p.bos_token if p.bos_token == tok.bos_token else tok.bos_token,
            p.eos_token if p.eos_token == tok.eos_token else tok.eos_token)


# -- who writes BOS ----------------------------------------------------------------------------------
def _starts_with_bos(tok: Any, text: str) -> bool:
    ids = tok(text, add_special_tokens=False)["input_ids"]
    return tok.bos_token_id is not None and list(ids[:1]) == [tok.bos_token_id]


def _shown_format(card: Card, tok: Any, message: str) -> tuple[str, str] | None:
    """(what, text): the format the `bos` claim speaks of, filled: the raw template when the card shows
    one (the README's line is about the prompt text), else the tokenizer's chat template."""
    p = card.model.prompt
    assert p is not None
    if p.template is not None:
        values = {"system_message": p.system_prompt or "", "prompt": message}
        return "the filled `prompt.template`", fill_template(p.template, values)
    if getattr(tok, "chat_template", None):
        try:
            return "the tokenizer's chat template", str(tok.apply_chat_template(
                chat.snippet_messages(card.model), add_generation_prompt=True, tokenize=False))
        except Exception:  # noqa: BLE001 - the chat template's own failure is reported where it is compared
            return None
    return None


def check_bos_claim(card: Card, tok: Any, message: str, r: SmokeResult) -> None:
    """`prompt.bos` (tokenizer, template, none) against what the tokenizer's encode and the template do."""
    p = card.model.prompt
    if p is None or p.bos is None:
        return
    before = len(r.failures)
    shown = _shown_format(card, tok, message)
    if shown is None:
        return
    what, text = shown
    bos, bos_id = tok.bos_token, tok.bos_token_id
    encoded = list(tok(message)["input_ids"])
    adds = bos_id is not None and encoded[:1] == [bos_id]
    writes = _starts_with_bos(tok, text)
    if p.bos == "tokenizer" and adds and writes and p.template is not None:
        return  # both: the model is fed two BOS tokens, the finding of ``tokens._bos_once``
    if {"tokenizer": adds and not writes, "template": writes, "none": not adds and not writes}[p.bos]:
        r.check("bos claim", before)
        return
    actual = "template" if writes else "tokenizer" if adds else "none"
    if bos_id is None:
        facts = "the tokenizer has no BOS token (tokenizer_config.json `bos_token`)"
    else:
        facts = (f"the tokenizer {'adds' if adds else 'does not add'} {bos!r} (it encodes {message!r} as "
                 f"{encoded[:4]}{'...' if len(encoded) > 4 else ''}) and {what} "
                 f"{'writes' if writes else 'does not write'} it")
    r.fail(codes.BOS_CLAIM, f"`prompt.bos: {p.bos}` says {CLAIMS[p.bos]}, but {facts}: set `prompt.bos: {actual}`")
    r.check("bos claim", before)


# -- stop strings ------------------------------------------------------------------------------------
def template_texts(card: Card, tok: Any) -> list[str]:
    """The text the card's formats write themselves: the raw template's literal parts, and the chat
    template's text around the messages of a conversation that ends with the assistant's turn."""
    p = card.model.prompt
    out = literals(p.template) if p is not None and p.template is not None else []
    if getattr(tok, "chat_template", None) and p is not None and p.chat_template is not None:
        msgs = [{"role": "system", "content": HOLE}, {"role": "user", "content": HOLE},
                {"role": "assistant", "content": HOLE}, {"role": "user", "content": HOLE}]
        for conversation in (msgs, msgs[1:]):  # a template that refuses a system turn is tried without one
            try:
                text = str(tok.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False))
            except Exception:  # noqa: BLE001 - the chat template's own failure is reported where it is compared
                continue
            out += [t for t in text.split(HOLE) if t]
            break
    return out


def check_stop_strings(card: Card, tok: Any, eos: set[int], where: str, r: SmokeResult) -> None:
    """Every stop string is text the template writes (a turn marker) or the text of an end-of-sequence
    token the model emits: a stop string that neither writes is never met."""
    p = card.model.prompt
    if p is None or not p.stop_strings:
        return
    before = len(r.failures)
    written = template_texts(card, tok)
    ends = {t for i in sorted(eos) for t in (tok.convert_ids_to_tokens(i), tok.decode([i])) if t}
    for s in p.stop_strings:
        key = s.strip()
        if not key or key in ends or any(key in t for t in written):
            continue
        turn = ", ".join(repr(t) for t in sorted(ends)) or "none"
        shown = ", ".join(dict.fromkeys(repr(t.strip()) for t in written if t.strip()))[:200] or "nothing"
        r.fail(codes.STOP_STRING, f"stop string {s!r} is never met: the prompt format writes {shown}, and the "
                                  f"model's end-of-sequence tokens ({where}) are {turn}")
    r.check("stop strings", before)


# -- the seq2seq snippet's input ------------------------------------------------------------------------
def check_seq2seq_input(card: Card, r: SmokeResult) -> None:
    """The seq2seq snippet feeds `usage.message` to the model as it is: it must follow the prompt format."""
    p, u = card.model.prompt, card.model.usage
    if p is None or p.template is None or u is None:
        return
    before = len(r.failures)
    if not follows(p.template, u.message):
        r.fail(codes.SNIPPET_FORMAT, f"the seq2seq snippet feeds `usage.message` {u.message!r} to the model as it "
                                     f"is, but the documented prompt format is {p.template!r}")
    r.check("snippet input", before)

