"""The usage snippet's and the prompt format's values: the Python source fragments the snippet
templates (`templates/snippets/<style>.py.j2`) place, the prompt block, the chat template's example
and the line on who writes the BOS token.

Every value is computed from the resolved card alone; the snippet's are ready-to-place Python source
(strings quoted, keyword arguments written out), so that the templates only place them.
"""

from __future__ import annotations

from typing import Any

from cardgen.card import Card
from cardgen.kinds import chat, tasks
from cardgen.kinds.prompt import fill_template, split_system
from cardgen.rendering.literals import fill, kwargs, py_fstring, py_str, py_triple_fstring, py_value
from cardgen.schema import GGUF, Prompt, Usage


def py_literal(v: Any) -> str:
    """Python source of a value made of dicts, lists and scalars, strings double-quoted."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(py_literal(x) for x in v) + "]"
    return py_value(v)


def snippet_dtype(card: Card) -> str | None:
    """The dtype the snippet loads with: the card's, else float16 for generating models only."""
    u = card.model.usage
    style = tasks.STYLES.get(tasks.style_of(card.model))
    if u is None:
        return "float16" if style is None or style.generates else None
    if "dtype" not in u.model_fields_set and style is not None and not style.generates:
        return None
    return u.dtype


def snippet_values(card: Card, repo_id: str | None = None) -> dict[str, Any]:
    """What the usage snippet template needs, as ready-to-place Python source fragments."""
    m = card.model
    u = m.usage
    style = tasks.style_of(m)
    tok_kw = {k: py_value(v) for k, v in (u.tokenizer_kwargs if u else {}).items()}
    dtype = snippet_dtype(card)
    model_kw = _model_kwargs(card, dtype)
    gen = _generation(card)
    return {
        "repo": py_str(repo_id or card.repo_id),
        "tokenizer_kwargs": ("", *[f"{k}={v}" for k, v in tok_kw.items()]),
        "model_kwargs": model_kw,
        "model_args": kwargs(model_kw),
        "model_arg_list": [f"{k}={v}" for k, v in model_kw.items()],
        "generate_arg_list": [f"{k}={v}" for k, v in gen.items()],
        "tokenizer_args": kwargs(tok_kw),
        "generate_args": kwargs(gen),
        "generation": gen,
        "needs_torch": bool(dtype and dtype != "auto"),
        "move_to_device": "device_map" not in model_kw,
        "message": py_str(u.message if u else "Write me a poem please"),
        "style": style,
        "auto_class": tasks.STYLES[style].auto_class if style in tasks.STYLES else "AutoModelForCausalLM",
        **_inputs(card, u),
        **_prompt_values(m.prompt),
    }


#: the transformers release that introduced `from_pretrained(dtype=...)` (`torch_dtype=` before it, deprecated since)
DTYPE_KEYWORD_SINCE = (4, 56)


def dtype_keyword(usage: Usage | None) -> str:
    """The keyword the snippet passes the dtype by: `dtype`, as transformers documents it, unless the card
    targets a transformers version from before it (`usage.transformers`), which knows `torch_dtype` only."""
    v = usage.transformers if usage is not None else None
    if v is not None and tuple(int(x) for x in v.split(".")[:2]) < DTYPE_KEYWORD_SINCE:
        return "torch_dtype"
    return "dtype"


def _model_kwargs(card: Card, dtype: str | None) -> dict[str, str]:
    """The keyword arguments the model is loaded with: its dtype, the card's own, remote code."""
    u = card.model.usage
    model_kw: dict[str, str] = {}
    if dtype:
        model_kw[dtype_keyword(u)] = '"auto"' if dtype == "auto" else f"torch.{dtype}"
    model_kw.update({k: py_value(v) for k, v in (u.model_kwargs if u else {}).items()})
    if card.model.trust_remote_code:
        model_kw["trust_remote_code"] = "True"
    return model_kw


def _generation(card: Card) -> dict[str, str]:
    """The keyword arguments of `generate()`: the card's, the token budget, the stop tokens."""
    u, p = card.model.usage, card.model.prompt
    gen = {k: py_value(v) for k, v in (u.generation if u else {}).items()}
    gen["max_new_tokens"] = str(u.max_new_tokens if u else 256)
    if p and p.stop_token_ids:
        gen["eos_token_id"] = repr(list(p.stop_token_ids))
    return gen


def _inputs(card: Card, u: Usage | None) -> dict[str, Any]:
    """What the snippet feeds the model, by style: the context, the sentences, the masked text, the
    chat messages, the GGUF file; and how its tokens are encoded and decoded."""
    p = card.model.prompt
    message = u.message if u else ""
    return {
        "context": py_str(u.context or "") if u else py_str(""),
        "sentences": py_literal(list(u.sentences) if u and u.sentences else [message]),
        "mask_fstring": py_fstring(message.replace("{mask}", "{__mask__}"), {"__mask__": "tokenizer.mask_token"}),
        "messages": py_literal(chat.snippet_messages(card.model)),
        "add_special_tokens": repr(not (p is not None and p.bos == "template")),
        "gguf_file": py_str(_gguf_file(card)),
        "stop": py_literal(list(p.stop_strings)) if p and p.stop_strings else "",
        "skip_special_tokens": repr(u.skip_special_tokens if u else True),
    }


def _prompt_values(p: Prompt | None) -> dict[str, Any]:
    """The raw prompt template as the snippet writes it: an f-string of the message, with the system
    prompt filled in (a variable of its own) where the template has a system part and the card one."""
    out: dict[str, Any] = {"prompt_vars": [], "prompt_fstring": py_str(""), "template": "", "template_triple": "",
                           "system_message": py_str("")}
    if p is None or p.template is None:
        return out
    rename = {"prompt": "message"}
    parts = split_system(p.template)
    if parts and p.system_prompt is not None:
        system, rest = parts
        out["prompt_vars"] = [("system_prompt", py_str(fill_template(system, {"system_message": p.system_prompt})))]
        out["prompt_fstring"] = py_fstring("{__system__}" + rest, {**rename, "__system__": "system_prompt"})
    else:
        if parts:
            out["prompt_vars"] = [("system_message", py_str(p.system_prompt or ""))]
        out["prompt_fstring"] = py_fstring(p.template, rename)
    out["system_message"] = py_str(p.system_prompt or "")
    out["template"] = p.template
    out["template_triple"] = py_triple_fstring(p.template)
    return out


def _gguf_file(card: Card) -> str:
    q = card.model.quantization
    u = card.model.usage
    if u is not None and u.file:
        return u.file
    return q.files[0].file if isinstance(q, GGUF) else ""


BOS_TEXT = {
    "tokenizer": "The tokenizer adds the beginning-of-sequence token{tok} itself: the prompt text does not write it.",
    "template": "The prompt text writes the beginning-of-sequence token{tok} itself: encode it without adding "
                "special tokens (`add_special_tokens=False`).",
    "chat": "The chat template writes the beginning-of-sequence token{tok} itself: `apply_chat_template(..., "
            "tokenize=True)` adds no other; a prompt formatted as text is encoded with `add_special_tokens=False`.",
    "none": "No beginning-of-sequence token is used.",
}


def chat_values(card: Card) -> dict[str, Any] | None:
    """The chat template's shown example (rendered here, without transformers) or, for a template taken
    from the tokenizer, the conversation it formats."""
    p = card.model.prompt
    if p is None or p.chat_template is None:
        return None
    conversation = chat.shown_conversation(card.model)
    out: dict[str, Any] = {"from_tokenizer": p.chat_template == chat.FROM_TOKENIZER, "example": "",
                           "template": "", "messages": ""}
    if out["from_tokenizer"]:
        out["messages"] = json_block(conversation)
    else:
        out["template"] = p.chat_template
        out["example"] = chat.render(p.chat_template, conversation, p.bos_token, p.eos_token,
                                     add_generation_prompt=conversation[-1]["role"] != "assistant").rstrip("\n")
    return out


def json_block(v: Any) -> str:
    import json

    return json.dumps(v, indent=2, ensure_ascii=False)


def bos_line(card: Card) -> str:
    p = card.model.prompt
    if p is None or p.bos is None:
        return ""
    key = "chat" if p.bos == "template" and p.template is None else p.bos
    return BOS_TEXT[key].format(tok=f" `{p.bos_token}`" if p.bos_token else "")


def prompt_block(card: Card, name: str) -> str:
    p = card.model.prompt
    assert p is not None
    if p.template is None:
        return ""
    if p.show == "template":
        return p.template
    parts = split_system(p.template)
    if p.show == "system" and parts:
        return fill_template(parts[0], {"system_message": p.system_prompt or ""})
    filled = fill_template(p.template, {k: fill(v, name=name) for k, v in p.example.items()})
    if p.example_response:
        filled += fill(p.example_response, name=name)
    return filled
