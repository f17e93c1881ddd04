"""The prompt-format recogniser: the first plain code block that shows a prompt format, into `prompt`
(``prompt_template`` reads the block into a template, its example values and response)."""

from __future__ import annotations

import re
from typing import Any

from cardgen.importing.recognise.claims import Claim, closed, partial
from cardgen.importing.recognise.registry import Context, recogniser

#: the turn markers of the prompt formats in common use, each with the role it opens
_ROLE_WORDS = {"system": "system", "user": "user", "human": "user", "instruction": "user", "prompt": "user",
               "assistant": "assistant", "response": "assistant", "gpt": "assistant", "bot": "assistant"}
_MARKER = re.compile(
    r"^(?:###[ \t]*)?(System|User|Human|Instruction|Assistant|Response|GPT|SYSTEM|USER|HUMAN|ASSISTANT)"
    r"[ \t]*:[ \t]*\n?"
    r"|<\|(system|user|assistant|SYSTEM|USER|ASSISTANT|prompter)\|>\n?"
    r"|<\|im_start\|>(system|user|assistant)\n"
    r"|<start_of_turn>(user|model)\n",
    re.M)
_END = re.compile(r"<\|im_end\|>|<end_of_turn>|<\|endoftext\|>|</s>|<\|end\|>")


def _role(m: re.Match[str]) -> str:
    word = next(g for g in m.groups() if g)
    return {"model": "assistant", "prompter": "user"}.get(word.lower(), _ROLE_WORDS.get(word.lower(), ""))


def prompt_template(block: str) -> dict[str, Any] | None:
    """A prompt-format block as a template with `{system_message}` and `{prompt}`, the example values
    it shows, and the response it shows after the last assistant marker."""
    from cardgen.kinds.prompt import PLACEHOLDER

    if set(PLACEHOLDER.findall(block)) - {"system_message", "prompt"}:
        return None
    marks = list(_MARKER.finditer(block))
    roles = [_role(m) for m in marks]
    if "user" not in roles or "assistant" not in roles or roles.count("user") > 1 or roles.count("system") > 1 \
            or roles[-1] != "assistant" or roles.count("assistant") > 1:
        return None
    template: list[str] = []
    example: dict[str, str] = {}
    last = 0
    for m, role, nxt in zip(marks, roles, [*marks[1:], None], strict=True):
        if nxt is None:  # the assistant's marker, last: what follows is the response shown
            template.append(block[last:m.end()])
            last = m.end()
            break
        content = block[m.end():nxt.start()]
        end = _END.search(content)
        raw = content[:end.start() if end else len(content.rstrip())]
        lead = len(raw) - len(raw.lstrip())
        value = raw.strip()
        if not value:
            return None
        name = "system_message" if role == "system" else "prompt"
        template.append(block[last:m.end()] + content[:lead] + "{" + name + "}")
        if value != "{" + name + "}":
            example[name] = value
        last = m.end() + lead + len(value)
    response = block[last:]
    out: dict[str, Any] = {"template": "".join(template)}
    if "system_message" not in out["template"]:
        out["placeholders"] = {"prompt": "the user's message"}
    if example:
        out["example"] = example
    if response.strip():
        out["example_response"] = response
    return out


@recogniser(20)
def prompt(ctx: Context) -> Claim | None:
    """The first plain code block (no language, or `text`) that shows a prompt format."""
    body = ctx.body
    for t in body.top():
        if t.type != "fence" or t.info.strip().lower() not in ("", "text", "txt", "plain", "prompt") \
                or not closed(body, t):
            continue
        found = prompt_template(t.content.rstrip("\n"))
        if found is None:
            continue
        a, b = t.map
        return Claim(a, b, "prompt_format", {"prompt": found},
                     partial(body.lines, a, b, [(a + 1, b - 1, "{{ prompt.block }}")]), "prompt template")
    return None
