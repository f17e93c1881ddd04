"""The import round trip, measured: each README of a folder imported, the imported cards rendered, and
each rendered README compared with the original it came from.

    python benchmarks/bench_roundtrip.py [FOLDER]   (default: tests/corpus)

What is counted, per README (``measure``):

- **renders**: the imported card renders (validates with no error); one that does not must have been
  reported by import (a problem naming why), and is counted apart.
- **blocks kept**: the body's blocks as ``cardgen.importing.blocks.body_blocks`` reads them with
  markdown-it-py (each heading, paragraph, list item, table cell with its column's alignment, code block
  and HTML block, whitespace-normalised), compared as a multiset: the fraction of the original's blocks
  found in the rendered README. A README with no body block counts as 1.0. The mean is over the cards
  that render.
- **unreported front-matter changes**: each top-level key whose value, as huggingface_hub reads the
  front matter (``ModelCard(...).data.to_dict()``, nothing normalised), differs between the original and
  the rendered README, and which no problem import reported names.
- **empty front matter added**: a rendered README that starts with a front-matter block holding no key
  (or with `---` then `---`, which huggingface_hub does not read as front matter: the Hub shows two
  rules), where the original had no front matter and did not start so itself.
- **alignment lost**: tables of the original whose column alignments (`:--`, `:-:`, `--:`) are not those
  of a table of the rendered README (compared as a multiset of per-table alignment rows).

``tests/test_import.py`` runs ``measure`` over tests/corpus and holds the thresholds.
"""

from __future__ import annotations

import logging
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"


@dataclass
class Card:
    name: str
    rendered: bool = False
    reported: bool = False  # import reported a problem (a card that does not render must have been)
    kept: float = 1.0
    missing: list[str] = field(default_factory=list)
    unreported: list[str] = field(default_factory=list)  # front-matter keys changed and not reported
    empty_front_matter: bool = False
    tables: int = 0
    alignment_lost: int = 0


@dataclass
class Figures:
    cards: list[Card]

    @property
    def rendered(self) -> list[Card]:
        return [c for c in self.cards if c.rendered]

    @property
    def mean_kept(self) -> float:
        done = self.rendered
        return sum(c.kept for c in done) / len(done) if done else 0.0

    def summary(self) -> str:
        done = self.rendered
        not_rendered = [c.name for c in self.cards if not c.rendered]
        unreported = sorted(f"{c.name}:{k}" for c in done for k in c.unreported)
        return "\n".join([
            f"cards imported:              {len(self.cards)}",
            f"render:                      {len(done)}" + (f" ({', '.join(not_rendered)} do not)" if not_rendered else ""),
            f"  not rendered, unreported:  {sum(1 for c in self.cards if not c.rendered and not c.reported)}",
            f"mean blocks kept:            {100 * self.mean_kept:.2f} %  (min {100 * min((c.kept for c in done), default=0):.2f} %)",
            f"unreported fm changes:       {len(unreported)} {' '.join(unreported)}",
            f"empty front matter added:    {sum(c.empty_front_matter for c in done)}",
            f"tables with alignment:       {sum(c.tables for c in done)}, lost: {sum(c.alignment_lost for c in done)}",
        ])


def alignments(body: str) -> Counter[tuple[str, ...]]:
    """Each table's column alignments (`left`, `center`, `right`, or `` for none), as markdown-it reads them."""
    from cardgen.importing.blocks import parser

    out: Counter[tuple[str, ...]] = Counter()
    row: list[str] | None = None
    for tok in parser().parse(body):
        if tok.type == "thead_open":
            row = []
        elif tok.type == "th_open" and row is not None:
            row.append(str(tok.attrs.get("style", "")).removeprefix("text-align:"))
        elif tok.type == "thead_close" and row is not None:
            if any(row):
                out[tuple(row)] += 1
            row = None
    return out


def _meta(text: str) -> dict[str, Any]:
    from huggingface_hub import ModelCard

    try:
        return ModelCard(text, ignore_metadata_errors=True).data.to_dict()
    except Exception:  # noqa: BLE001 - what huggingface_hub cannot read has no keys to compare
        return {}


def compare_card(name: str, original: str, rendered: str | None, problems: list[str]) -> Card:
    from cardgen.frontmatter import mapping, split
    from cardgen.importing.blocks import body_blocks
    from cardgen.rendering.provenance import unsealed

    card = Card(name, rendered=rendered is not None, reported=bool(problems))
    if rendered is None:
        return card
    rendered = unsealed(rendered)
    fm_a, body_a, _ = split(original)
    fm_b, body_b, _ = split(rendered)
    want = body_blocks(body_a, align=True)
    have = Counter(body_blocks(body_b, align=True))
    for b in want:
        if have[b] > 0:
            have[b] -= 1
        else:
            card.missing.append(str(b))
    card.kept = 1 - len(card.missing) / len(want) if want else 1.0
    a, b = _meta(original), _meta(rendered)
    card.unreported = sorted(k for k in set(a) | set(b)
                             if a.get(k) != b.get(k) and not any(f"`{k}`" in p or f"{k} " in p or f"{k}:" in p
                                                                  for p in problems))
    # `---` then `---` is not front matter to huggingface_hub (its pattern wants a line between): two rules
    empty = re.compile(r"\s*---[ \t]*\n")  # (an original that starts so keeps it: it is its text)
    card.empty_front_matter = fm_a is None and not empty.match(original) and (
        bool(empty.match(rendered)) if fm_b is None else not mapping(fm_b))
    before, after = alignments(body_a), alignments(body_b)
    card.tables = sum(before.values())
    card.alignment_lost = sum((before - after).values())
    return card


def measure(folder: Path = CORPUS) -> Figures:
    """Import every `*.md` of ``folder`` (ORIGIN.md and README.md aside), render the cards, compare."""
    from cardgen.importing.run import run_import
    from cardgen.loading.scope import select
    from cardgen.pipeline.run import render_all

    files = sorted(p for p in folder.glob("*.md") if p.name not in ("ORIGIN.md", "README.md"))
    with tempfile.TemporaryDirectory(prefix="cardgen-roundtrip-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for f in files:
            (src / f.name).write_bytes(f.read_bytes())
        imports, _ = run_import([str(src)], Path(tmp) / "cards", None, False)
        rendering = render_all(select([Path(tmp) / "cards"]), jobs=1)
        texts = dict(rendering.texts)
    problems = {imp.repo_id: imp.problems for imp in imports}
    cards = []
    for f in files:
        repo = f"imported/{f.stem}"
        cards.append(compare_card(f.name, f.read_text("utf-8"), texts.get(repo), problems.get(repo, [])))
    return Figures(cards)


def main() -> None:
    import huggingface_hub.repocard  # noqa: F401 - its loggers set up first, then quietened

    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    figures = measure(folder)
    print(figures.summary())
    for c in figures.cards:
        if c.missing or c.unreported or c.alignment_lost or c.empty_front_matter:
            print(f"  {c.name}: kept {100 * c.kept:.1f} %, missing {c.missing[:3]}, unreported {c.unreported}, "
                  f"alignment lost {c.alignment_lost}, empty front matter {c.empty_front_matter}")


if __name__ == "__main__":
    main()
