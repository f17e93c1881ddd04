"""The tokenizer tier of a generating card (no weights read): the documented prompt judged on token
ids (the filled template, and a chat card's raw template too, against the tokenizer's chat template;
BOS counted once), the stop ids against the model's end-of-sequence ids, the snippet's tokenizer
keywords, the architecture in config.json, and the prompt facts of ``prompts`` (BOS and EOS texts, the
`bos` claim, markers one token each, stop strings, the seq2seq input). What it finds is handed to
generation as `Tokenized`."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardgen.card import Card
from cardgen.kinds.prompt import PLACEHOLDER, fill_template, markers
from cardgen.smoke import codes, prompts
from cardgen.smoke.options import SmokeOptions
from cardgen.smoke.result import SmokeResult, first_line, time_limit

TEST_MESSAGE = "Say hello."


@dataclass
class Tokenized:
    """What the tokenizer tier hands generation: the tokenizer, the prompt's ids, where generation stops
    (ids, strings), and the template's literal text, which must not leak into the answer."""

    tok: Any
    ids: list[int]
    stop_at: list[int]
    stop_strings: list[str]
    markers: list[str]


def fill_prompt(card: Card, message: str = TEST_MESSAGE) -> tuple[str, list[str]]:
    """The card's template filled with its system prompt and a test message; and what was left unfilled."""
    p = card.model.prompt
    assert p is not None and p.template is not None
    values = {"system_message": p.system_prompt or "", "prompt": message}
    prompt = fill_template(p.template, values)
    return prompt, PLACEHOLDER.findall(prompt)


def tokenizer_tier(card: Card, source: str, opts: SmokeOptions, r: SmokeResult) -> Tokenized | None:
    """Every check of a generating card that needs the tokenizer and config.json only; None when the
    prompt cannot be tokenised (the failure is in ``r``)."""
    m = card.model
    p = m.prompt
    seq2seq = r.style == "seq2seq"
    if p is None and not seq2seq:
        r.fail(codes.NO_PROMPT, "the card documents no prompt format")
        return None
    trust = bool(m.trust_remote_code)
    if trust:
        r.warnings.append("the card asks for trust_remote_code=True: code from the repository runs")
    tok = _tokenizer(card, source, opts, r)
    if tok is None:
        return None
    check_tokenizer_kwargs(card, tok, source, r)
    cfg = _config(source, trust, r)
    if cfg is not None:
        _architecture(cfg, seq2seq, r)
    eos, eos_where = eos_ids(source, tok, cfg)
    stop_at = check_stops(card, tok, eos, eos_where, r)
    if p is not None:
        prompts.check_markers(p, tok, r)
        prompts.check_special_texts(p, tok, r)
        prompts.check_stop_strings(card, tok, eos, eos_where, r)
    ids = _seq2seq_ids(card, tok, r) if seq2seq else _prompt_ids(card, tok, r)
    if ids is None:
        return None
    _bos_once(tok, ids, r)
    prompts.check_bos_claim(card, tok, TEST_MESSAGE if p and p.template else _message(card), r)
    return Tokenized(tok, ids, stop_at, list(p.stop_strings) if p else [],
                     markers(p.template or "") if p is not None and not seq2seq else [])


def _tokenizer(card: Card, source: str, opts: SmokeOptions, r: SmokeResult) -> Any:
    """The tokenizer, loaded with the snippet's keywords; None, with the failure, when it does not load."""
    from transformers import AutoTokenizer

    u = card.model.usage
    tok_kw = dict(u.tokenizer_kwargs) if u else {}
    try:
        with time_limit(opts.timeout, f"loading the tokenizer of {r.name}"):
            return AutoTokenizer.from_pretrained(source, trust_remote_code=bool(card.model.trust_remote_code),
                                                 **tok_kw)
    except Exception as e:  # noqa: BLE001 - reported, not raised
        r.fail(codes.NOT_LOADING, f"loading the tokenizer failed: {first_line(e)}")
        return None


def check_tokenizer_kwargs(card: Card, tok: Any, source: str, r: SmokeResult) -> None:
    """The snippet's tokenizer keywords must be ones transformers reads: an unknown one is ignored silently."""
    import inspect

    from transformers import PreTrainedTokenizerBase

    u = card.model.usage
    if u is None or not u.tokenizer_kwargs:
        return
    known = set(inspect.signature(PreTrainedTokenizerBase.__init__).parameters)
    known |= set(inspect.signature(type(tok).__init__).parameters)
    # what this tokenizer is configured with (not init_kwargs: unknown keywords land there too)
    from cardgen.files import read_json

    config = read_json(Path(source) / "tokenizer_config.json")
    known |= set(config) if isinstance(config, dict) else set()
    known |= {"use_fast", "trust_remote_code", "revision", "cache_dir", "token", "local_files_only", "subfolder",
              "force_download", "proxies", "legacy", "add_bos_token", "add_eos_token", "from_slow",
              "tokenizer_type", "use_default_system_prompt", "add_prefix_space"}
    for k in u.tokenizer_kwargs:
        if k not in known:
            close = difflib.get_close_matches(k, sorted(known), n=1, cutoff=0.75)
            r.fail(codes.TOKENIZER_KWARG, f"the snippet passes tokenizer keyword {k!r}, which transformers ignores"
                   + (f"; did you mean {close[0]!r}?" if close else ""))


def _config(source: str, trust: bool, r: SmokeResult) -> Any:
    """The model's configuration (config.json, no weights); None, with the failure, when it does not load."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=trust)
    except Exception as e:  # noqa: BLE001
        r.fail(codes.NOT_LOADING, f"config.json does not load: {first_line(e)}")
        return None


def _architecture(cfg: Any, seq2seq: bool, r: SmokeResult) -> None:
    """config.json's architecture must have the head the card's snippet loads."""
    archs = list(getattr(cfg, "architectures", None) or [])
    want = ("ForConditionalGeneration", "Seq2SeqLM") if seq2seq else ("ForCausalLM", "LMHeadModel")
    if archs and not any(a.endswith(want) for a in archs):
        cls = "AutoModelForSeq2SeqLM" if seq2seq else "AutoModelForCausalLM"
        r.fail(codes.ARCHITECTURE, f"the card's {r.style} snippet loads {cls}, "
                                   f"but the model's architecture is {', '.join(archs)} (config.json): set the "
                                   "pipeline_tag that this model serves")


# -- stops -----------------------------------------------------------------------------------------
def eos_ids(source: str, tok: Any, cfg: Any) -> tuple[set[int], str]:
    """The end-of-sequence ids of the tokenizer and of generation_config.json (else of ``cfg``, config.json)."""
    ids = {tok.eos_token_id} if tok.eos_token_id is not None else set()
    where = "tokenizer"
    try:
        from transformers import GenerationConfig

        gen = GenerationConfig.from_pretrained(source)
        where += " and generation_config.json"
        found = gen.eos_token_id
    except Exception:  # noqa: BLE001 - no generation_config.json: the model's config says it
        found = getattr(cfg, "eos_token_id", None)
        if cfg is not None:
            where += " and config.json"
    ids |= set(found if isinstance(found, list) else [found] if isinstance(found, int) else [])
    return ids, where


def check_stops(card: Card, tok: Any, eos: set[int], where: str, r: SmokeResult) -> list[int]:
    """The documented stop ids against the model's end-of-sequence ids; the ids generation stops at
    (the documented ones, which the snippet passes as `eos_token_id`, else the model's own)."""
    p = card.model.prompt
    before = len(r.failures)
    documented = list(p.stop_token_ids) if p else []
    vocab = len(tok)
    for sid in documented:
        if sid >= vocab:
            r.fail(codes.STOP_IDS, f"stop token id {sid} is outside the tokenizer's vocabulary (size {vocab})")
    if documented:
        missing = sorted(eos - set(documented))
        if missing:
            names = ", ".join(f"{i} {tok.convert_ids_to_tokens(i)!r}" for i in missing)
            r.fail(codes.STOP_IDS, f"the snippet passes eos_token_id={documented}, which replaces the model's end-of-"
                                   f"sequence id(s) {names} ({where}): add them to prompt.stop_token_ids")
        special = set(getattr(tok, "all_special_ids", [])) | {
            i for i, t in getattr(tok, "added_tokens_decoder", {}).items() if getattr(t, "special", False)}
        for sid in documented:
            if sid < vocab and sid not in eos and sid not in special:
                r.fail(codes.STOP_IDS, f"stop token id {sid} is the ordinary token {tok.convert_ids_to_tokens(sid)!r}, "
                                       "neither end-of-sequence nor a special token: generation would stop inside text")
    r.check("stops", before)
    return [i for i in documented if i < vocab] or sorted(eos)


# -- the prompt's ids ------------------------------------------------------------------------------
def _seq2seq_ids(card: Card, tok: Any, r: SmokeResult) -> list[int]:
    """A sequence-to-sequence card: the snippet's message, as the encoder reads it."""
    prompts.check_seq2seq_input(card, r)
    r.prompt = _message(card)
    ids: list[int] = tok(r.prompt)["input_ids"]
    return ids


def _message(card: Card) -> str:
    """The message the snippet sends."""
    u = card.model.usage
    return u.message if u else TEST_MESSAGE


def _prompt_ids(card: Card, tok: Any, r: SmokeResult) -> list[int] | None:
    """A prompted card: the prompt's ids (the chat template's for a chat card, else the filled
    template's); a chat card that also shows a raw template has it judged too."""
    p = card.model.prompt
    assert p is not None
    if r.style == "chat" or p.template is None:
        ids = _chat_ids(card, tok, r)
        if ids is not None and p.template is not None:
            prompt = r.prompt
            _template_ids(card, tok, r, check="raw template")
            r.prompt = prompt
        return ids
    return _template_ids(card, tok, r)


def _bos_once(tok: Any, ids: list[int], r: SmokeResult) -> None:
    """The model must be fed one BOS token, not the template's and the tokenizer's."""
    bos = tok.bos_token_id
    if bos is not None and list(ids[:2]) == [bos, bos]:
        r.fail(codes.BOS_CLAIM, f"the model is fed two BOS tokens ({list(ids[:3])}...): the prompt writes "
                                f"{tok.bos_token!r} and the tokenizer adds it too; remove it from the template, or set "
                                "`prompt.bos: template`")


def _first_difference(a: list[int], b: list[int]) -> int:
    """The first position where two token id lists differ (the shorter one's length if one extends the other)."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _template_ids(card: Card, tok: Any, r: SmokeResult, check: str = "chat template") -> list[int] | None:
    """The filled raw template's ids; against the tokenizer's chat template's, when it has one."""
    p = card.model.prompt
    assert p is not None
    prompt, unfilled = fill_prompt(card)
    r.prompt = prompt
    if unfilled:
        r.fail(codes.UNFILLED, f"template placeholder(s) left unfilled: {', '.join('{' + u + '}' for u in unfilled)}")
        return None
    ids = list(tok(prompt, add_special_tokens=p.bos != "template")["input_ids"])
    if getattr(tok, "chat_template", None):
        before = len(r.failures)
        msgs = ([{"role": "system", "content": p.system_prompt}] if p.system_prompt is not None else []) + [
            {"role": "user", "content": TEST_MESSAGE}]
        try:
            chat = list(tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                                return_dict=True)["input_ids"])
        except Exception as e:  # noqa: BLE001
            r.fail(codes.TEMPLATE_IDS, f"the tokenizer's chat template fails: {first_line(e)}")
            return None
        if chat != ids:
            at = _first_difference(chat, ids)
            text = (f"the card's template gives other token ids than the tokenizer's chat template, from position "
                    f"{at}: card {ids[at:at + 4]} {tok.decode(ids[at:at + 4])!r} vs chat template {chat[at:at + 4]} "
                    f"{tok.decode(chat[at:at + 4])!r}")
            if p.chat_template_differs:
                r.warnings.append(f"{text} (the card says why: {p.chat_template_differs})")
            else:
                r.fail(codes.TEMPLATE_IDS,
                       text + "; fix the template, or say why it differs in `prompt.chat_template_differs`")
        r.check(check, before)
    return ids


def _chat_ids(card: Card, tok: Any, r: SmokeResult) -> list[int] | None:
    """A chat card: the tokenizer's chat template applied to the snippet's conversation; a chat template
    written in the card must give the same ids."""
    from cardgen.kinds import chat

    p = card.model.prompt
    assert p is not None
    before = len(r.failures)
    if not getattr(tok, "chat_template", None):
        r.fail(codes.TEMPLATE_IDS, "the card documents a chat template but the tokenizer has none "
                                   "(tokenizer_config.json `chat_template`)")
        return None
    msgs = chat.snippet_messages(card.model)
    try:
        ids = list(tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                           return_dict=True)["input_ids"])
        r.prompt = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    except Exception as e:  # noqa: BLE001
        r.fail(codes.TEMPLATE_IDS, f"the tokenizer's chat template fails: {first_line(e)}")
        return None
    if p.chat_template not in (None, chat.FROM_TOKENIZER):
        assert p.chat_template is not None
        try:
            mine = chat.render(p.chat_template, msgs, *prompts.chat_template_tokens(p, tok))
        except chat.ChatTemplateError as e:
            r.fail(codes.TEMPLATE_IDS, str(e))
            return None
        card_ids = list(tok(mine, add_special_tokens=False)["input_ids"])
        if card_ids != ids:
            at = _first_difference(card_ids, ids)
            r.fail(codes.TEMPLATE_IDS, f"the card's chat template gives other token ids than the tokenizer's, from "
                                       f"position {at}: card {card_ids[at:at + 5]} vs tokenizer {ids[at:at + 5]}; copy "
                              "tokenizer_config.json's chat_template into `prompt.chat_template`")
    r.check("chat template", before)
    return ids
