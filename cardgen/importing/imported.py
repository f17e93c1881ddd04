"""An imported card (``Imported``): the card's fields, what import made of its README (claims, free
sections, problems), and how its sources are written (``card_yaml``, ``write_card``); and the error that
stops an import (``ImportError_``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.files import atomic_write
from cardgen.importing.recognise.claims import Claim


class ImportError_(Exception):
    """The source cannot be imported (one line, no traceback)."""


@dataclass
class Imported:
    repo_id: str
    source: str  # where the README came from
    card: dict[str, Any]
    recognised: list[str] = field(default_factory=list)  # typed fields filled
    free_sections: int = 0
    problems: list[str] = field(default_factory=list)  # what could not be kept as typed data, and why
    original: str = ""  # the README as read (BOM and CRLF removed)
    lines: list[str] = field(default_factory=list)  # the body's lines
    body_start: int = 0  # the first line after the title
    cuts: list[int] = field(default_factory=list)  # where `#` and `##` headings after the title begin
    claims: list[Claim] = field(default_factory=list)  # parts of the body shown from typed fields
    base: Imported | None = None  # the embedded original card, as a card of its own
    partials: dict[str, str] = field(default_factory=dict)  # the card's own templates, by file name
    start: dict[str, Any] = field(default_factory=dict)  # the card's fields before the claims (finish starts here)
    file: str = ""  # the README its lines are counted in (an embedded card's: the card that embeds it)
    offset: int = 0  # the README's lines before the body's first (its front matter; an embedded card's: more)
    code: list[str] = field(default_factory=list)  # code carried over that smoke runs, "line N: ..." (see carried)

    @property
    def readme(self) -> str:
        return self.file or self.source

    def all(self) -> list[Imported]:
        """This card and the base card it embeds, if any."""
        return [self, *(self.base.all() if self.base else [])]


def dump(data: Any) -> str:
    """YAML as card sources are written: keys in their order, each value spelled out (no aliases), text
    over several lines as a block a person can edit (``cardgen.loading.yamlpos.dumps``)."""
    from cardgen.loading.yamlpos import dumps

    return dumps(data)


def card_yaml(imp: Imported, card: dict[str, Any] | None = None) -> str:
    source = "".join(c if c.isprintable() else repr(c)[1:-1] for c in imp.source)  # a comment stays one line
    head = (f"# yaml-language-server: $schema=../../../schemas/card.schema.json\n"
            f"# Imported by cardgen from {source}\n")
    return head + dump(imp.card if card is None else card)


def sources(imp: Imported, partials: dict[str, str], card: dict[str, Any]) -> dict[str, str]:
    """The card's source files, by path in its folder: ``card`` as its card.yaml, ``partials`` as its own
    templates."""
    return {**{f"templates/{name}": text for name, text in partials.items()}, "card.yaml": card_yaml(imp, card)}


def write_sources(folder: Path, files: dict[str, str], sync: bool = True) -> None:
    """Files (by path in ``folder``) written into ``folder`` (synced to disk with ``sync``: sources kept)."""
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / name, text, sync=sync)


def write_card(root: Path, imp: Imported, partials: dict[str, str], card: dict[str, Any]) -> Path:
    """The card's sources under ``root``, a temporary folder of import's own for checking them (not
    synced: they are gone once checked)."""
    write_sources(root / imp.repo_id, sources(imp, partials, card), sync=False)
    return root / imp.repo_id / "card.yaml"

