"""The table of recognisers: each one's place in the order and its function, the decorator that fills
it, and what every recogniser is given (``Context``). The recognisers live in the modules beside this
one; ``run`` imports them all and applies them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cardgen.importing.recognise.claims import Body, Claim


@dataclass
class Context:
    """What a recogniser is given: the body, the list its problems go to, and the facts of the card
    (whether ``--fix`` computes what the original got wrong, the repo id, the title, whether the metadata
    names a licence)."""

    body: Body
    problems: list[str]
    fix: bool = False
    repo: str = ""
    title: str = ""
    licensed: bool = True


Find = Callable[[Context], Claim | None]


@dataclass(frozen=True)
class Recogniser:
    order: int  # its place among the recognisers (see ``recogniser``)
    find: Find


RECOGNISERS: list[Recogniser] = []


def recogniser(order: int) -> Callable[[Find], Find]:
    """Register a recogniser at its place ``order``. The order is the body's own for the claims, but it
    decides two things: which of two claims that begin on the same line is taken (the first), and the
    order of the problems reported. It is written here, not left to the order the modules are imported in."""

    def add(fn: Find) -> Find:
        RECOGNISERS.append(Recogniser(order, fn))
        return fn

    return add


def in_order() -> list[Recogniser]:
    return sorted(RECOGNISERS, key=lambda r: r.order)
