"""What `publish` refuses of the cards it rendered, whatever its flags: a card with an error in a file it is
built from (a card with errors of its own is not rendered at all; this is the rest: a warning the policy
raises to an error, in lint or a shared file), a card that still holds a placeholder (the TODO that
`cardgen new` writes, CG410, in its own sources or a base's, whatever severity the policy gives that code:
only a line's `# cardgen: ignore[CG410]` says a TODO is meant), and with --strict a card that a warning is
reported against (in a file it is built from)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from cardgen.diagnostics import Diagnostic, plural
from cardgen.policy import Policy

if TYPE_CHECKING:
    from cardgen.card import Card
    from cardgen.pipeline.run import Rendering


def placeholders(card: Card) -> list[Diagnostic]:
    """The placeholders (CG410) of a card's own sources and its bases', those a line ignores left out."""
    from cardgen.diagnostics import warning
    from cardgen.rules.kinds import placeholders_left

    def chain(c: Card | None) -> Iterator[Card]:
        while c is not None:
            yield c
            c = c.base

    found = [warning(where, "CG410", message) for c in chain(card) for where, message in placeholders_left(c)]
    return Policy().apply(found)  # the default policy: only a line's ignore comment drops one


def refusals(rendering: Rendering, strict: bool) -> dict[str, str]:
    """Each rendered card `publish` must not publish, and the one line that says why: an error the policy
    raised (from a warning) in a file it is built from, a placeholder, and with ``strict`` a warning."""
    errors = [d for d in rendering.diagnostics if d.severity == "error"]
    warned = [d for d in rendering.diagnostics if d.severity == "warning"] if strict else []
    every = {os.path.realpath(f) for card in rendering.cards.values() for f in card.built_from()}
    loose = [d for d in warned if os.path.realpath(d.file) not in every]  # a warning no card's own: all refused
    out: dict[str, str] = {}
    for repo in sorted(rendering.texts):
        card = rendering.cards.get(repo)
        if card is None:
            continue
        files = {os.path.realpath(f) for f in card.built_from()}
        bad = [d for d in errors if os.path.realpath(d.file) in files]
        todo = placeholders(card)
        mine = loose or [d for d in warned if os.path.realpath(d.file) in files]
        if bad:
            out[repo] = (f"{plural(len(bad), 'error')} in the files it is built from, the first at {_at(bad[0])}: "
                         "publish refuses a card with errors whatever the flags")
        elif todo:
            field = todo[0].message.split(": ")[0].removeprefix("placeholder left in ")
            out[repo] = (f"{plural(len(todo), 'placeholder')} left (CG410), the first at {_at(todo[0], False)} "
                         f"({field}): publish refuses a card with placeholders whatever the flags; replace each TODO")
        elif mine:
            whose = "" if loose else " in the files it is built from"
            out[repo] = f"--strict: {plural(len(mine), 'warning')}{whose}, the first at {_at(mine[0])}"
    return out


def _at(d: Diagnostic, code: bool = True) -> str:
    return f"{d.file}:{d.line}" + (f": {d.code}" if code else "")
