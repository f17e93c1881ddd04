"""`cardgen import --merge`: an edit made to a README on the Hub, brought back into the card's sources.

`publish` skips a README that was edited on the Hub since cardgen published it, so that the edit is not
clobbered. The edit belongs in the sources. The README the sources render now must be the one that was
published (the digest marker on the Hub says which); the difference between it and the README on the
Hub is then the edit. Each changed run of lines is looked for in the card's source files (its YAML,
where free text sits in block scalars, its own and its organisation's templates, the shared files):
found once, it is replaced there. A run edited line for line is placed line by line in the text values
that show it, their `{name}`-style variables kept (``placing``); a changed front-matter key goes to the
field that writes it. What cannot be placed is reported with the fields it is computed from and where
they are written (a sentence several files hold, text cardgen computes), never guessed. The merged
sources are rendered again: an edit whose place would change lines the Hub did not change is taken
back and reported, and what still differs from the Hub's README is reported. Nothing is written
without ``write``.
"""

from __future__ import annotations

import difflib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.files import display
from cardgen.frontmatter import lines as line_list
from cardgen.frontmatter import split
from cardgen.importing.recognise.claims import literal
from cardgen.rendering.provenance import DIGEST, unsealed


class MergeError(Exception):
    """The edit cannot be merged at all (one line, no traceback)."""


@dataclass
class Merged:
    repo_id: str
    changes: dict[Path, tuple[str, str]] = field(default_factory=dict)  # source file -> (before, after)
    merged: int = 0  # changed runs of lines placed in the sources
    left: list[str] = field(default_factory=list)  # what could not be placed, and why

    def diff(self, root: Path) -> str:
        out: list[str] = []
        for path, (old, new) in sorted(self.changes.items()):
            name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
            out += difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"a/{name}", f"b/{name}")
        return "".join(out)


def _render(root: Path, folder: Path, repo_id: str) -> tuple[str, dict[str, str]]:
    """The card's README as its sources render it, and the values its prose's `{name}`-style variables
    are filled with."""
    from cardgen.loading.scope import find_root, select
    from cardgen.pipeline.run import render_all

    # the card's folder alone when cardgen finds the cards folder from it, else the whole cards folder
    rendering = render_all(select([folder if find_root(folder) == root else root]), jobs=1)
    text = rendering.texts.get(repo_id)
    card = rendering.cards.get(repo_id)
    if text is None or card is None:
        raise MergeError(f"the sources of {repo_id} in {folder} do not render: `cardgen validate {folder}` says why")
    return text, {"name": card.name, "repo_id": card.repo_id}


def _rendered(root: Path, folder: Path, repo_id: str) -> str | None:
    try:
        return _render(root, folder, repo_id)[0]
    except MergeError:
        return None


def _sources(folder: Path, root: Path) -> dict[Path, list[str]]:
    """The files an edit to a card's README may belong in, the card's own first, each with its lines:
    files of the cards folder itself (a link is not one: what it leads to is not edited through it), each
    read within cardgen's bounds."""
    from cardgen.files import escaping_link, read_text

    out = [p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in (".yaml", ".yml", ".md", ".j2")]
    org = folder.parent / "_templates"
    out += [p for p in sorted(org.rglob("*.j2"))] if org.is_dir() else []
    shared = root / "_shared"
    out += [p for p in sorted(shared.glob("*.y*ml"))] if shared.is_dir() else []
    texts: dict[Path, list[str]] = {}
    for p in out:
        if p.is_symlink() or escaping_link(p, root) is not None:
            continue
        text, _ = read_text(p, str(p))
        if text is not None:
            texts[p] = text.split("\n")
    return texts


def _forms(path: Path, line: str) -> str:
    """A README line as the source file writes it: escaped in a template, as is elsewhere."""
    return literal(line) if path.suffix == ".j2" else line


def _find(lines: list[str], run: list[str], path: Path) -> list[tuple[int, str]]:
    """Where ``run`` sits in a file's lines: (first line, the indent the file gives it: a YAML block
    scalar indents every non-empty line alike)."""
    want = [_forms(path, x) for x in run]
    first = next((x for x in want if x.strip()), None)
    if first is None:
        return []
    hits = []
    for s in range(len(lines) - len(want) + 1):
        ref = next(lines[s + k] for k, x in enumerate(want) if x.strip())
        if not ref.endswith(first):
            continue
        indent = ref[: len(ref) - len(first)]
        if indent.strip():
            continue
        if all((lines[s + k] == indent + x) if x.strip() else not lines[s + k].strip() for k, x in enumerate(want)):
            hits.append((s, indent))
    return hits


def _anchor(texts: dict[Path, list[str]], before: list[str]) -> tuple[list[str], int] | None:
    """Where an insertion goes: the fewest last lines of ``before`` (up to four, not all blank) that sit in
    one place of the sources, and how many they are; None when no such run is."""
    for k in range(1, min(4, len(before)) + 1):
        run = before[-k:]
        if any(x.strip() for x in run) and sum(len(_find(t, run, p)) for p, t in texts.items()) == 1:
            return run, k
    return None


def _place(texts: dict[Path, list[str]], old: list[str], new: list[str], before: list[str],
           edits: dict[Path, list[tuple[int, int, list[str]]]]) -> str | None:
    """Record the edit replacing ``old`` by ``new`` (an insertion, when ``old`` is empty, goes after the
    lines ``before``); None when placed, else why not."""
    if old:
        run, offset = old, 0
    else:
        anchor = _anchor(texts, before)
        if anchor is None:
            return "the lines around it are not in one place of the sources"
        run, offset = anchor
    hits = [(p, s, ind) for p, t in texts.items() for s, ind in _find(t, run, p)]
    if not hits:
        return "computed from fields (or written differently in the sources): edit the sources"
    if len(hits) > 1:
        return "the sources hold these lines in several places: edit the one meant"
    path, start, indent = hits[0]
    at = start + (offset if not old else 0)
    end = at if not old else start + len(old)
    if path.suffix in (".yaml", ".yml") and not indent:
        return "the lines are YAML keys of the sources, not text in them: edit the sources"
    body = [(indent + _forms(path, x)) if x.strip() else "" for x in new]
    edits.setdefault(path, []).append((at, end, body))
    return None


def merge(hub_text: str, root: Path, repo_id: str) -> Merged:
    """The edit in ``hub_text`` (the README on the Hub) as changes to the sources of ``repo_id`` in the cards
    folder ``root``."""
    root = root.resolve()
    folder = root / repo_id
    hub_text = "\n".join(line_list(hub_text.lstrip("\ufeff")))  # every line end LF, a lone CR's too
    marker = DIGEST.search(hub_text)
    if marker is None:
        raise MergeError(f"the README of {repo_id} on the Hub was not written by cardgen (no digest marker): import "
                         "it without --merge")
    ours, values = _render(root, folder, repo_id)
    mine = DIGEST.search(ours)
    if mine is None or mine.group(1) != marker.group(1):
        raise MergeError(f"the sources of {repo_id} no longer render the README that was published (digest "
                         f"{marker.group(1)}, theirs now {mine.group(1) if mine else 'none'}): merge into the sources "
                         "as they were when it was published (check them out, merge, then reapply your changes)")
    result = Merged(repo_id)
    texts = _sources(folder, root)
    edits: dict[Path, list[tuple[int, int, list[str]]]] = {}
    _front_matter(result, texts, (root, folder, repo_id), ours, hub_text, edits)
    origin: dict[tuple[Path, int, int], int] = {}  # each edit: the README line it comes from
    _note(edits, origin, 1)
    body_old, body_new = split(unsealed(ours))[1], split(unsealed(hub_text))[1]
    a, b = body_old.split("\n"), body_new.split("\n")
    first = unsealed(ours).count("\n") - body_old.count("\n") + 1  # the README line the body starts on
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        why = _place(texts, a[i1:i2], b[j1:j2], a[:i1], edits)
        _note(edits, origin, i1 + first)
        if why is None:
            result.merged += 1
        elif i2 - i1 == j2 - j1:  # edited line for line: each line placed in a text value, or reported
            for k, (x, y) in enumerate(zip(a[i1:i2], b[j1:j2], strict=True)):
                if x != y:
                    _line(result, texts, (root, folder, repo_id), (x, y, i1 + k + first), values, edits, why)
                    _note(edits, origin, i1 + k + first)
        else:
            where = f"line {i1 + first}" if i2 - i1 <= 1 else f"lines {i1 + first}-{i2 + first - 1}"
            if any(x.strip() for x in a[i1:i2]):
                why = _named((root, folder, repo_id), texts, next(x for x in a[i1:i2] if x.strip())) or why
            result.left.append(f"README {where}: {why}")
    for path in [p for p, changes in edits.items() if _applied(texts[p], changes) is None]:
        result.left.append(f"{display(path)}: two edits overlap there: edit it by hand")
        result.merged -= len(edits.pop(path))
    if edits:
        _check(result, (root, folder, repo_id), texts, edits, (ours, hub_text, origin))
    return result


def _note(edits: dict[Path, list[tuple[int, int, list[str]]]], origin: dict[tuple[Path, int, int], int],
          line: int) -> None:
    """The README line of each edit recorded since the last call."""
    for path, changes in edits.items():
        for at, end, _ in changes:
            origin.setdefault((path, at, end), line)


def _applied(lines: list[str], changes: list[tuple[int, int, list[str]]]) -> str | None:
    """A file's lines with its edits made; None when two of them overlap."""
    lines = list(lines)
    spans = sorted(changes, reverse=True)
    if any(s2[1] > s1[0] for s1, s2 in zip(spans, spans[1:], strict=False)):
        return None
    for at, end, body in spans:
        lines[at:end] = body
    return "\n".join(lines)


def _front_matter(result: Merged, texts: dict[Path, list[str]], card: tuple[Path, Path, str], ours: str,
                  hub_text: str, edits: dict[Path, list[tuple[int, int, list[str]]]]) -> None:
    """Each front-matter key the Hub changed, into the field of the card's card.yaml that writes it (or
    reported, with the field and where)."""
    from cardgen.importing.placing import place_front_matter
    from cardgen.pipeline.drift import front_matter_changes

    for key, old, new in front_matter_changes(ours, hub_text):
        placed = place_front_matter(texts, card[1] / "card.yaml", key, old, new)
        if isinstance(placed, str):
            placed = _named(card, texts, None, (key, old)) or placed
            result.left.append(f"front matter `{key}`: {old!r} on publishing, {new!r} on the Hub: not merged "
                               f"({placed})")
        else:
            edits.setdefault(placed[0], []).append(placed[1])
            result.merged += 1


def _line(result: Merged, texts: dict[Path, list[str]], card: tuple[Path, Path, str], edit: tuple[str, str, int],
          values: dict[str, str], edits: dict[Path, list[tuple[int, int, list[str]]]], why: str) -> None:
    """Record one README line edited (``edit``: the line, the line on the Hub, its number) in the text value
    of the sources that holds it (``placing.place_line``), or report it: with the field that holds it, or
    those it is computed from."""
    from cardgen.importing.placing import place_line

    old, new, number = edit
    placed = place_line(texts, old, new, values)
    if not isinstance(placed, str):
        edits.setdefault(placed[0], []).append(placed[1])
        result.merged += 1
        return
    if "`" in placed:
        why = placed
    elif old.strip():
        why = _named(card, texts, old) or why
    result.left.append(f"README line {number}: {why}")


def _named(card: tuple[Path, Path, str], texts: dict[Path, list[str]], line: str | None,
           key: tuple[str, Any] | None = None) -> str | None:
    """Why a README line (or a front-matter key with its value, ``key``) cannot be placed, naming the fields
    of card.yaml it is computed from (``card``: the cards folder, the card's folder, its repo id)."""
    from cardgen.frontmatter import mapping
    from cardgen.importing.placing import computed_from

    root, folder, repo_id = card
    card_yaml = folder / "card.yaml"
    if card_yaml not in texts:
        return None

    def gone(text: str) -> bool:
        if key is not None:
            return mapping(split(text)[0]).get(key[0]) != key[1]
        return line not in text.split("\n")

    fields = computed_from(lambda top, f: _rendered(top, f, repo_id), root, card_yaml, "\n".join(texts[card_yaml]),
                           gone)
    if not fields:
        return None
    return f"computed from fields {', '.join(fields)}: edit {'it' if len(fields) == 1 else 'them'} there"


def _differing(text: str, hub_text: str) -> int:
    """How much two READMEs (without their digest markers) differ: the front-matter keys whose values
    differ (their order is cardgen's), and the body's lines that do."""
    from cardgen.pipeline.drift import front_matter_changes

    a, b = split(unsealed(text))[1].split("\n"), split(unsealed(hub_text))[1].split("\n")
    return len(front_matter_changes(text, hub_text)) + sum(
        max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in
        difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op != "equal")


def _check(result: Merged, card: tuple[Path, Path, str], texts: dict[Path, list[str]],
           edits: dict[Path, list[tuple[int, int, list[str]]]],
           readmes: tuple[str, str, dict[tuple[Path, int, int], int]]) -> None:
    """Render the merged sources in a copy of the cards folder. Where the README is not then the Hub's,
    each edit is tried alone: one that does not bring the README nearer the Hub's (it changes lines the
    Hub did not) is not merged, and reported with where it would have gone; what still differs is
    reported; a merge that does not render is refused."""
    root, folder, repo_id = card
    ours, hub_text, origin = readmes
    with tempfile.TemporaryDirectory(prefix="cardgen-merge-") as tmp:
        copy = Path(tmp) / root.name
        shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))

        def render(chosen: dict[Path, list[tuple[int, int, list[str]]]]) -> str | None:
            for path in texts:
                target = copy / path.relative_to(root)
                new = _applied(texts[path], chosen[path]) if path in chosen else None
                if new is not None or target.is_symlink():
                    target.unlink(missing_ok=True)  # a link copied as a link is replaced, never written through
                target.write_text(new if new is not None else "\n".join(texts[path]), encoding="utf-8")
            return _rendered(copy, copy / folder.relative_to(root), repo_id)

        text = render(edits)
        if text is None or _differing(text, hub_text):
            base = _differing(ours, hub_text)
            for path, changes in list(edits.items()):
                for change in list(changes):
                    alone = render({path: [change]})
                    if alone is None or _differing(alone, hub_text) >= base:
                        changes.remove(change)
                        result.merged -= 1
                        line = origin.get((path, change[0], change[1]), 1)
                        result.left.append(f"README line {line}: placed in {display(path)}:{change[0] + 1}, the edit "
                                           "would change README lines the Hub did not change: not merged")
            text = render(edits)
    if text is None:
        raise MergeError(f"merging the edit of {repo_id} would leave sources that do not render: nothing "
                         "changed; edit the sources by hand")
    result.changes = {p: ("\n".join(texts[p]), _applied(texts[p], c) or "") for p, c in edits.items() if c}
    still = _differing(text, hub_text)
    if still and not result.left:
        result.left.append(f"{still} line{'s' * (still != 1)} still differ after the merge: see `cardgen diff`")
