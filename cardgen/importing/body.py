"""A README's body into the card: the title, the parts recognised as structure (claims, by
``cardgen.importing.recognise``), an embedded original card (a base card of its own), and the rest cut at
its headings (found by markdown-it-py) into ordered free sections, each kept as the original wrote it
(``finish``, once the claims are checked)."""

from __future__ import annotations

import re
from typing import Any

from cardgen import hubspec
from cardgen.importing.imported import Imported
from cardgen.importing.recognise.claims import Claim, literal
from cardgen.importing.recognise.run import recognise

#: a heading of the body: (its first line, the line after it, its level, its text)
Head = tuple[int, int, int, str]

#: an embedded original card: a `# ` heading after the title, as TheBloke's and others' derived cards write it
_EMBEDDED = re.compile(r"^original model card\b", re.I)


def _parsed(text: str, imp: Imported) -> tuple[list[str], list[Any]]:
    """The body's lines and its markdown-it tokens. A code block the original never closed runs to the
    end of the card: it is closed there (reported), so that what cardgen appends after the body does not
    fall into it."""
    from cardgen.importing.blocks import parser

    lines = text.split("\n")
    tokens = parser().parse(text)
    last = next((t for t in reversed(tokens) if t.map and t.level == 0), None)
    if last is not None and last.type == "fence" and last.map and (
            last.map[1] - last.map[0] < 2 or not lines[last.map[1] - 1].strip().startswith(last.markup)):
        text = text.rstrip("\n") + "\n" + last.markup + "\n"
        lines = text.split("\n")
        tokens = parser().parse(text)
        imp.problems.append("the last code block was never closed: closed at the end of the card")
    return lines, tokens


def _title(lines: list[str], tokens: list[Any], heads: list[Head], out: dict[str, Any], imp: Imported,
           offset: int) -> int:
    """The title, into `title`: the first `# ` heading, when it is one line and opens the body, and
    renders as written (a `{name}` in it would be filled: then it stays text, reported). Returns the line
    the sections begin on (after the title; 0 when there is none)."""
    from cardgen.rendering.literals import fill

    first_block = next((t.map[0] for t in tokens if t.map and t.level == 0), None)
    if heads and heads[0][2] == 1 and heads[0][0] == first_block and heads[0][1] - heads[0][0] == 1 \
            and lines[heads[0][0]].startswith("# "):
        if fill(heads[0][3], name="\0") != heads[0][3]:  # the title is filled as the card's own text is
            imp.problems.append(f"line {heads[0][0] + 1 + offset}: the title holds `{{name}}`, which cardgen fills "
                                "in a title: kept as text, as written")
            return 0
        out["title"] = heads[0][3]
        return heads[0][1]
    return 0


def _embedded(imp: Imported, lines: list[str], heads: list[Head], body_start: int, base_model: Any, offset: int,
              fix: bool) -> Claim | None:
    """An embedded original card (a one-line `# Original model card` heading after the title) in a card
    whose `base_model` names one repository: the lines from its heading on become that repository's card
    (``imp.base``, imported as a card of its own), and the claim that shows it as the base card. Otherwise
    it stays text (reported when `base_model` does not name one repository)."""
    embedded = next((h for h in heads if h[2] == 1 and h[0] >= body_start and h[1] - h[0] == 1
                     and _EMBEDDED.match(h[3])), None)
    if embedded is None:
        return None
    base = base_model[0] if isinstance(base_model, list) and len(base_model) == 1 else base_model
    if not isinstance(base, str) or hubspec.repo_id_problem(base) or base == imp.repo_id:
        imp.problems.append(f"line {embedded[0] + 1 + offset}: an embedded original card, but `base_model` does "
                            "not name one repository: kept as text")
        return None
    sub = Imported(base, f"{imp.source} (its embedded original card)", {}, file=imp.readme)
    sub.card = {"repo_id": base}
    sub.original = "\n".join(lines[embedded[1]:])
    body(sub.original, sub.card, sub, offset=offset + embedded[1], fix=fix)
    imp.base = sub
    partial = literal(lines[embedded[0]]) + "\n\n{{ base_card() }}\n"
    return Claim(embedded[0], len(lines), "base_card",
                 {"extends": base, "embed_base_card": True, "base_card_headings": "as_written"},
                 partial, f"embedded original card, as the base card {base}",
                 original="\n".join(lines[embedded[0]:]))


def body(text: str, out: dict[str, Any], imp: Imported, base_model: Any = None, offset: int = 0,
         fix: bool = False) -> None:
    """The title (the first `# ` heading, when it opens the body), the parts recognised as structure
    (``recognise``), an embedded original card (a base card of its own, with `extends`), and the rest as
    ordered free sections."""
    lines, tokens = _parsed(text, imp)
    heads = [(t.map[0], t.map[1], int(t.tag[1]), tokens[i + 1].content) for i, t in enumerate(tokens)
             if t.type == "heading_open" and t.map and t.level == 0]
    body_start = _title(lines, tokens, heads, out, imp, offset)  # where the sections begin
    out.setdefault("title", "")  # none: the rendered card has no `# ` title either
    imp.lines, imp.body_start, imp.offset = lines, body_start, offset
    imp.cuts = _cuts(imp, heads, body_start, offset)
    base_claim = _embedded(imp, lines, heads, body_start, base_model, offset, fix)
    end = base_claim.start if base_claim else len(lines)
    scan = [("" if i < body_start else line) for i, line in enumerate(lines[:end])]
    licensed = out.get("license") is not None
    imp.claims = recognise("\n".join(scan), imp.repo_id, imp.problems, offset, fix, licensed,
                           out.get("title") or "") + ([base_claim] if base_claim else [])


def _slug(text: str, taken: dict[str, int]) -> str:
    """A section id from its first line, unique among ``taken`` (each base with the next number it gets:
    a thousand sections of one heading take their ids in one step each)."""
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "section"
    n = taken.get(base, 1)
    slug = base if n == 1 else f"{base}-{n}"
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    taken[base] = n + 1
    taken.setdefault(slug, 1)
    return slug


#: the most free sections a card is cut into (at its `#` and `##` headings): each is an entry of card.yaml
#: with its id and anchor, so that a body of many short headings would give sources many times its size
MAX_FREE_SECTIONS = 1000
#: a free section is anchored after the one before it; every this many, after the slot that begins the
#: run instead (the same order: a slot's sections come in the order card.yaml lists them), so that no
#: chain of anchors is deeper than this to render
ANCHOR_CHAIN = 100


def _cuts(imp: Imported, heads: list[Head], body_start: int, offset: int) -> list[int]:
    """Where the free sections begin: each `#` and `##` heading after the title, the first
    ``MAX_FREE_SECTIONS`` of them (the rest stays in the last section, reported)."""
    cuts = [start for start, _, level, _ in heads if level <= 2 and start >= body_start]
    if len(cuts) > MAX_FREE_SECTIONS:
        imp.problems.append(f"line {cuts[MAX_FREE_SECTIONS] + 1 + offset}: {len(cuts):,} headings: the body is cut "
                            f"into free sections at the first {MAX_FREE_SECTIONS:,}; the rest is one section")
        cuts = cuts[:MAX_FREE_SECTIONS]
    return cuts


def finish(imp: Imported) -> None:
    """The card's sources from its claims: their fields, the free sections between them, and the
    templates that place them in the original's order."""
    import copy

    if not imp.start:
        imp.start = copy.deepcopy({"card": imp.card, "recognised": imp.recognised})
    imp.card = out = copy.deepcopy(imp.start["card"])
    imp.recognised = list(imp.start["recognised"])
    lines = imp.lines
    for c in imp.claims:
        out.update(c.fields)
    claimed = {c.start: c for c in imp.claims}
    bounds = sorted({imp.body_start, len(lines), *(x for c in imp.claims for x in (c.start, c.end)), *imp.cuts})
    from cardgen.sections import SECTION_NAMES

    taken = dict.fromkeys(SECTION_NAMES, 1)  # a section named like a slot would be placed after both
    sections: list[dict[str, Any]] = []
    prev, slots, chain = "title", ["title"], 0
    for a, b in zip(bounds, bounds[1:], strict=False):
        if a in claimed:
            prev = claimed[a].slot
            slots.append(prev)
            chain = 0
            continue
        if any(c.start < b and a < c.end for c in imp.claims):
            continue
        chunk = "\n".join(lines[a:b]).strip("\n")
        if not chunk.strip():
            continue
        sid = _slug(chunk.split("\n", 1)[0].lstrip("#").strip(), taken)
        chain = 0 if chain == ANCHOR_CHAIN else chain + 1
        sections.append({"id": sid, "body": chunk, "verbatim": True, "after": prev if chain else slots[-1]})
        prev = sid
    if sections:
        out["sections"] = sections
    imp.free_sections = len(sections)
    imp.recognised += [c.what for c in imp.claims]
    imp.partials = {"card.md.j2": CARD_TEMPLATE + "".join(f'{{{{ slot("{s}") }}}}' for s in slots) + "\n",
                    **own_templates(imp.claims)}


def own_templates(claims: list[Claim]) -> dict[str, str]:
    """The templates of a card's own that its claims need: each slot's partial (none where cardgen's
    own serves), and the files a claim brings (an imported snippet)."""
    out = {f"{c.slot}.md.j2": c.partial for c in claims if c.partial}
    for c in claims:
        out.update(c.files)
    return out


#: the imported card's own order of sections: the slots of the parts recognised as structure, in the
#: original's order (its free sections are anchored to them)
CARD_TEMPLATE = """{#- Imported by cardgen: the original's order. Each slot's partial in this folder is the original's
    text around the facts it shows from card.yaml; the free sections in card.yaml are anchored to the
    slots. Replace a partial by cardgen's own (delete it) to take cardgen's layout for that section. -#}
"""

