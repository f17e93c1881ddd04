"""Card sections, declared once, and the templates that place them.

A section is a slot in `card.md.j2` (``{{ slot("training") }}``), a partial `<name>.md.j2` and the
template-context value its partial shows (built in ``template_context``). Which sections a card has,
and in which order, comes from the `card.md.j2` that card actually uses: the first on its search
path (the card's own `templates/`, its organisation's `cards/<owner>/_templates/`, cardgen's own).
Free sections anchor `before`/`after` one of those slots (or another free section).

This module reads templates as text only: validation never imports Jinja.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class SectionSpec:
    """One card section: its slot and partial name, and the card fields it shows."""

    name: str
    fields: tuple[str, ...]
    title: str


#: The sections cardgen's templates know, in the default order. Adding one: a field in `schema.py`,
#: an entry here, its builder in `template_context.BUILDERS`, `templates/<name>.md.j2`, and its slot in
#: the `card.md.j2` files that should show it.
SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("header", (), "organisation header (partials of an organisation's templates)"),
    SectionSpec("title", ("title", "tagline", "name"), "the `# ` title"),
    SectionSpec("description", ("description", "description_heading"), "model description"),
    SectionSpec("usage", ("usage", "trust_remote_code"), "usage snippet"),
    SectionSpec("prompt_format", ("prompt",), "prompt format"),
    SectionSpec("model_details", ("creator", "model_type", "model_type_description", "parameters", "language",
                                  "library_name", "library_display", "license", "contact"), "model details"),
    SectionSpec("variants", ("quantization",), "quantisation variants"),
    SectionSpec("training", ("training", "suite"), "training data and procedure"),
    SectionSpec("evaluation", ("evaluation",), "evaluation results"),
    SectionSpec("environment", ("co2_eq_emissions",), "environmental impact (emissions)"),
    SectionSpec("risks", ("risk_assessment",), "risk × use × mitigation matrix"),
    SectionSpec("ethics", (), "ethical considerations (partials of an organisation's templates)"),
    SectionSpec("citations", ("citations", "cite_as", "citations_heading", "cite_as_heading"), "BibTeX"),
    SectionSpec("footer", (), "organisation footer (partials of an organisation's templates)"),
    SectionSpec("base_card", ("extends", "embed_base_card", "base_card_headings"), "the embedded base model card"),
)
SECTION_NAMES = tuple(s.name for s in SECTIONS)

_SLOT = re.compile(r"""slot\(\s*["']([A-Za-z0-9_.-]+)["']\s*\)""")


@lru_cache(maxsize=1)
def package_templates() -> Path:
    here = Path(__file__).parent
    for p in (here / "templates", here.parent / "templates"):
        if (p / "card.md.j2").is_file():
            return p
    raise FileNotFoundError("cardgen's templates folder is missing from the installation")


def search_path(folder: Path, own: str | None, root: Path | None = None,
                memo: dict[Path, bool] | None = None) -> tuple[tuple[str, ...], list[str]]:
    """Where a card's partials are looked up (its own folder, its organisation's, cardgen's); and why
    a folder was left out: it leaves the cards folder ``root`` (a link, `..`, an absolute path), or the
    card names a `templates` folder that is not there."""
    from cardgen.files import inside

    mine = folder / (own or "templates")
    org = folder.parent / "_templates"
    path, problems = [], []
    memo = {} if memo is None else memo  # folders already judged in this run (an organisation's cards share one)
    for p in (mine, org):
        if p not in memo:
            memo[p] = p.is_dir() and (root is None or inside(p, root))
        if memo[p]:
            path.append(str(p))
        elif root is not None and p.exists() and not inside(p, root):
            problems.append(f"{p} leads outside {root} (to {p.resolve()}): its templates are not used")
        elif p is mine and own is not None:
            problems.append(f"templates folder {own!r} does not exist in {folder}")
    return tuple(path) + (str(package_templates()),), problems


def placed_slots(search: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """The slots the first `card.md.j2` on the search path places, in order; and that file."""
    from cardgen.files import read_text

    for folder in search:
        p = Path(folder) / "card.md.j2"
        if p.is_file():
            text, _ = read_text(p, str(p))  # within cardgen's size bound; the renderer reports what is wrong
            if text is None:
                continue
            return tuple(dict.fromkeys(_SLOT.findall(text))), str(p)
    return (), ""
