"""`cardgen import`: existing README cards into card sources, losing nothing.

Each README is read (``readmes``); its front matter goes into typed fields where cardgen has one and
everything else into the `metadata:` pass-through (``front_matter``), so that the front matter of the
card rendered from the new sources, read by huggingface_hub, equals the original's. Its body gives the
title, the parts recognised as structure and an embedded original card; the rest is cut at its headings
into ordered free sections, each kept as the original wrote it (``body``). The recognised parts are
rendered back and kept only where they give the original back (``verify``); facts that several cards
write go to one shared file (``share``).

All are read, converted and checked before anything is written. Sources are written inside the cards
folder, each card folder as a whole, never over existing ones unless ``force``, the shared file merged
entry by entry (``write``); the same input gives the same sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cardgen import hubspec
from cardgen.evals.imported import read_into
from cardgen.frontmatter import lines, split
from cardgen.hub import Bounds
from cardgen.importing.body import body, finish
from cardgen.importing.carried import note_carried_code
from cardgen.importing.front_matter import front_matter
from cardgen.importing.imported import Imported, ImportError_
from cardgen.importing.readmes import IMPORT_BOUNDS, readme_sources
from cardgen.importing.share import existing_entries, share
from cardgen.importing.verify import settle, verify
from cardgen.importing.write import Written, write


def import_text(text: str, repo_id: str, source: str, fix: bool = False) -> Imported:
    """One README (its text) as an imported card, its claims not yet checked."""
    imp = Imported(repo_id, source, {})
    out: dict[str, Any] = {"repo_id": repo_id}
    imp.card = out
    text = text.lstrip("\ufeff")
    if lone := text.count("\r") - text.count("\r\n"):
        imp.problems.append(f"{lone:,} lone CR line end{'s' * (lone != 1)} (an old Mac's) read as line ends, as "
                            "Markdown reads them: the sources and the README end lines with LF")
    text = imp.original = "\n".join(lines(text))  # every line end LF, where Markdown ends a line
    fm, rest, fm_line = split(text)
    meta: Any = {}
    if fm is not None:
        meta, problems = _front_matter_data(fm)
        imp.problems += problems
        if meta is None and problems:
            rest, meta = text, {}
    if not isinstance(meta, dict):
        imp.problems.append("the front matter is not a mapping; kept as body text")
        rest, meta = text, {}
    before = len(imp.problems)
    front_matter(meta, out, imp)
    _at_keys(imp, before, fm or "", fm_line, meta)
    body(rest, out, imp, meta.get("base_model"), offset=text.count("\n") - rest.count("\n"), fix=fix)
    return imp


def _at_keys(imp: Imported, since: int, block: str, first: int, meta: dict[str, Any]) -> None:
    """Each front-matter problem noted since ``since`` placed at the README line of the key it names (the
    front matter ``block`` starts on line ``first``)."""
    import re

    lines = {m.group(1): n + first for n, line in enumerate(block.split("\n"))
             if (m := re.match(r"""["']?([^\s:#"'][^:"']*)["']?\s*:""", line))}
    keys = sorted((str(k) for k in meta if str(k) in lines), key=len, reverse=True)
    for i in range(since, len(imp.problems)):
        key = next((k for k in keys if k in imp.problems[i]), None)
        if key is not None and not imp.problems[i].startswith("line "):
            imp.problems[i] = f"line {lines[key]}: {imp.problems[i]}"


def _front_matter_data(block: str) -> tuple[Any, list[str]]:
    """A README's front matter read as card sources are (within cardgen's bounds: aliases, depth, tags,
    integer length); what was wrong with it, at its line in the README (the block starts on line 2)."""
    from cardgen.loading.yamlpos import plain

    data, diags = plain(block, "front matter")
    problems = [f"line {d.line + 1}: the front matter: {d.message}" for d in diags]
    if data is None and diags:
        problems[-1] += "; kept as body text"
    return ({} if data is None and not diags else data), problems


def _readmes(paths: list[str], repo_id: str | None, bounds: Bounds) -> list[tuple[str, str, str]]:
    """(repo id, where it came from, README text) for each README named, each repo id valid and given
    to one README only."""
    found = readme_sources(paths, repo_id, bounds)
    if repo_id and len(found) > 1:
        raise ImportError_("--repo-id names one repository, but several READMEs were given")
    seen: dict[str, str] = {}
    for rid, src, _ in found:
        if p := hubspec.repo_id_problem(rid):
            raise ImportError_(f"{src}: repo id {rid!r}: {p} (give --repo-id)")
        if rid in seen:
            raise ImportError_(f"{src} and {seen[rid]} would both become {rid}")
        seen[rid] = src
    return found


def _embedded_apart(imports: list[Imported], imported: set[str], out: Path) -> None:
    """An embedded card whose repository is imported too, or already has sources in ``out``, stays text."""
    for top in imports:
        if top.base and (top.base.repo_id in imported or (out / top.base.repo_id).exists()):
            top.problems.append(f"the embedded original card of {top.base.repo_id} stays text: that card is "
                                f"{'imported too' if top.base.repo_id in imported else 'already in ' + str(out)}")
            top.claims = [c for c in top.claims if c.slot != "base_card"]
            top.base = None


def _check(imports: list[Imported]) -> None:
    """The claims checked and the cards finished: the cards' own claims first (an embedded card's too, as
    a card of its own); then each embedded card, finished, under the card that embeds it; then every
    card, finished, rendered whole."""
    held = {id(top): [c for c in top.claims if c.slot == "base_card"] for top in imports}
    for top in imports:
        top.claims = [c for c in top.claims if c.slot != "base_card"]
    verify([imp for top in imports for imp in top.all()])
    with_base = [top for top in imports if top.base]
    for top in with_base:
        assert top.base is not None
        finish(top.base)
        top.claims = sorted(top.claims + held[id(top)], key=lambda c: c.start)
    verify(with_base, [top.base for top in with_base if top.base])
    for top in with_base:
        if not any(c.slot == "base_card" for c in top.claims):
            top.base = None
    for top in imports:
        finish(top)
    settle(imports)


def run_import(paths: list[str], out: Path, repo_id: str | None, force: bool, share_facts: bool = True,
               fix: bool = False, bounds: Bounds = IMPORT_BOUNDS) -> tuple[list[Imported], Written]:
    """Import every README named (a Hub repo's fetched within ``bounds``); write each card's sources
    (inside ``out``, each card folder as a whole, never over existing sources unless ``force``; see
    ``write``). All are read, converted and checked before anything is written."""
    found = _readmes(paths, repo_id, bounds)
    imports = [import_text(text, rid, src, fix) for rid, src, text in found]
    for imp in imports:  # `.eval_results/` and a README's score table (cardgen.evals)
        read_into(imp, bounds)
    _embedded_apart(imports, {rid for rid, _, _ in found}, out)
    _check(imports)
    for top in imports:
        note_carried_code(top)
    cards = [imp for top in imports for imp in top.all()]
    shared = share(imports, existing_entries(out)) if share_facts else {}
    return cards, write(out, cards, shared, force)
