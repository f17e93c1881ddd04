"""Run the recognisers: every recogniser module is imported here (each registers its recogniser on
import), and ``recognise`` applies them all, in their order, to a body."""

from __future__ import annotations

import cardgen.importing.recognise.citations  # noqa: F401 - each recogniser module registers on import
import cardgen.importing.recognise.licence  # noqa: F401
import cardgen.importing.recognise.prompt  # noqa: F401
import cardgen.importing.recognise.risks  # noqa: F401
import cardgen.importing.recognise.training  # noqa: F401
import cardgen.importing.recognise.usage  # noqa: F401
import cardgen.importing.recognise.variants  # noqa: F401
from cardgen.importing.recognise.claims import Body, Claim
from cardgen.importing.recognise.registry import Context, in_order


def _system_prompt(found: list[Claim]) -> None:
    """The default system prompt, when the usage snippet fills the prompt template's system part with one
    (`system_prompt = "### System:\\nYou are ...\\n\\n"`): the prompt's `system_prompt`, which the smoke test
    and the chat example use."""
    from cardgen.kinds.prompt import split_system

    snippet = next((c for c in found if c.slot == "usage" and c.system_prompt), None)
    prompt_ = next((c for c in found if c.slot == "prompt_format"), None)
    if snippet is None or prompt_ is None:
        return
    parts = split_system(prompt_.fields["prompt"]["template"])
    if parts is None:
        return
    head, _, tail = parts[0].partition("{system_message}")
    text = snippet.system_prompt or ""
    if text.startswith(head) and text.endswith(tail) and len(text) > len(head) + len(tail):
        prompt_.fields["prompt"]["system_prompt"] = text[len(head):len(text) - len(tail)]


def _taken(body: Body, found: list[Claim]) -> list[Claim]:
    """The claims in the order of the body, none overlapping (of two that overlap, the one that begins
    first, or comes first in ``found``, is taken; the other stays text), each with the lines it stands for."""
    claims: list[Claim] = []
    for c in sorted(found, key=lambda c: c.start):
        if any(c.start < o.end and o.start < c.end for o in claims):
            continue  # overlaps one already taken: stays text
        c.original = "\n".join(body.lines[c.start:c.end])
        if any(i in body.fixed for i in range(c.start, c.end)):
            c.expected = "\n".join(body.fixed.get(i, body.lines[i]) for i in range(c.start, c.end))
        claims.append(c)
    return claims


def recognise(text: str, repo: str, problems: list[str], offset: int = 0, fix: bool = False,
              licensed: bool = True, title: str = "") -> list[Claim]:
    """The claims of a body (the title excluded), in the order of the body, none overlapping; ``offset``:
    the lines before the body in the README, for the line numbers of problems."""
    body = Body.parse(text, offset)
    ctx = Context(body, problems, fix, repo, title, licensed)
    found = [c for r in in_order() if (c := r.find(ctx)) is not None]
    _system_prompt(found)
    return _taken(body, found)
