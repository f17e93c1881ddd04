"""Chat templates as data: the example conversation a card shows, rendered without torch or transformers.

A chat template is Jinja text (tokenizer_config.json's `chat_template`). transformers renders it in
a sandboxed Jinja environment with `trim_blocks`, `lstrip_blocks`, the `loopcontrols` extension, a
`tojson` filter that does not escape HTML, `raise_exception` and `strftime_now`; this module renders
it the same way, so the card's example is what `apply_chat_template(..., tokenize=False)` gives.
Two differences, both for reproducible cards: `strftime_now` formats a fixed date (``FIXED_NOW``),
and the `{% generation %}` block (assistant-mask tracking) is rendered as its plain content.
The smoke test compares the two on the real tokenizer.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cardgen.limits import TEMPLATE_CHARS, TEMPLATE_SECONDS

if TYPE_CHECKING:
    from cardgen.schema import CardSource

FROM_TOKENIZER = "from_tokenizer"
FIXED_NOW = datetime(2024, 1, 1)  # what `strftime_now` shows in a rendered card


class ChatTemplateError(ValueError):
    """The template does not compile or fails on the example conversation."""


@lru_cache(maxsize=64)
def _compile(text: str) -> Any:
    import jinja2
    from jinja2 import nodes
    from jinja2.ext import Extension
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(Extension):  # `{% generation %}...{% endgeneration %}`: its content, untracked
        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return nodes.CallBlock(self.call_method("_content"), [], [], body).set_lineno(lineno)

        def _content(self, caller: Any) -> str:
            return str(caller())

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, "jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = FIXED_NOW.strftime
    try:
        return env.from_string(text)
    except jinja2.TemplateSyntaxError as e:
        raise ChatTemplateError(f"the chat template does not compile: {e.message} (template line {e.lineno})") from None


def render(text: str, messages: list[dict[str, str]], bos_token: str | None = None, eos_token: str | None = None,
           add_generation_prompt: bool = True) -> str:
    """The chat template filled with a conversation, as transformers fills it (tokenize=False): compiled
    and rendered in ``sandbox``'s worker, within ``TEMPLATE_SECONDS`` and the worker's memory."""
    import jinja2  # noqa: F401 - imported here, where rendering needs it anyway, a worker forked from here has it

    from cardgen import sandbox

    if text in _OVER:  # it ran past a bound once in this process: every check of the card would wait again
        raise ChatTemplateError(_OVER[text])
    try:
        return sandbox.call(_render_here, text, messages, bos_token, eos_token, add_generation_prompt,
                            seconds=TEMPLATE_SECONDS)
    except sandbox.Bound as e:
        why = f"the chat template {e} on the example conversation"
        if len(_OVER) >= 64:
            _OVER.pop(next(iter(_OVER)))
        _OVER[text] = why
        raise ChatTemplateError(why) from None


#: templates that ran past the time or memory bound in this process, with the error (the oldest dropped
#: first): a card's checks render its chat template several times (the example, CG408, CG422-CG424), and a
#: template that loops would cost the bound each time
_OVER: dict[str, str] = {}


def _render_here(text: str, messages: list[dict[str, str]], bos_token: str | None, eos_token: str | None,
                 add_generation_prompt: bool) -> str:
    from cardgen import sandbox

    try:
        template = _compile(text)
    except (ChatTemplateError, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - Python's own limits on what it compiles: nesting, mostly
        raise ChatTemplateError(f"the chat template does not compile: {sandbox.reason(e)}") from None
    try:
        out = str(template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                  bos_token=bos_token or "", eos_token=eos_token or "", tools=None, documents=None))
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - a template's own raise_exception, an undefined name...: one message
        why = sandbox.reason(e)
        raise ChatTemplateError("the chat template fails on the example conversation: "
                                + (f"{type(e).__name__}: {why}" if why == str(e) else why)) from None
    if len(out) > TEMPLATE_CHARS:
        raise ChatTemplateError(f"the chat template gives {len(out):,} characters for the example conversation; "
                                f"the limit is {TEMPLATE_CHARS:,}")
    return out


def snippet_messages(model: CardSource) -> list[dict[str, str]]:
    """The conversation the chat snippet sends: the system prompt, if any, and the usage message."""
    p = model.prompt
    out = [{"role": "system", "content": p.system_prompt}] if p and p.system_prompt is not None else []
    return out + [{"role": "user", "content": model.usage.message if model.usage else "Write me a poem please"}]


def shown_conversation(model: CardSource) -> list[dict[str, str]]:
    """The conversation the card shows with its chat template (its own, else the snippet's)."""
    p = model.prompt
    if p and p.conversation:
        return [msg.model_dump() for msg in p.conversation]
    return snippet_messages(model)
