"""What a run over some paths reports beyond what its cards' own checks found, so that it fails when a
card it was asked about cannot be built: a card whose base (or another file it is built from) lies
outside the paths given and has errors is reported at the card (CG311), a path that selects card
folders but renders no README from them is an error (CG312); and a repository described in two folders
(CG307) is judged over every record. (A dependency-graph store that could not be used says so itself:
``Store.warnings``.)"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen.diagnostics import Diagnostic, Where, error
from cardgen.files import display
from cardgen.loading.scope import Scope

if TYPE_CHECKING:
    from cardgen.pipeline.index import Head
    from cardgen.pipeline.records import Record


@dataclass(frozen=True)
class Twice:
    """Repositories described in two folders: for one resolver the second description is no card."""

    diags: list[Diagnostic]  # CG307 at each second description
    files: set[str]  # their files: no card built from one is rendered
    again: set[tuple[str, str]]  # (repo id, file) of each second description

    def not_cards(self, diags: list[Diagnostic]) -> list[Diagnostic]:
        """The diagnostics without what was checked of a second description as a card (a key the
        policy requires, CG217)."""
        if not self.again:
            return diags
        return [d for d in diags if not (d.code == "CG217" and any(d.file == f for _, f in self.again))]


def described_twice(ordered: Sequence[tuple[str, Record | Head]]) -> Twice:
    """What a single resolver sees across all folders: a repository that a later folder describes again
    (in another file) is reported there, and that description is no card."""
    first: dict[str, str] = {}  # repo id -> the file that describes it first
    twice = Twice([], set(), set())
    for _, rec in ordered:
        for t in rec.targets:
            if t.repo not in first:
                first[t.repo] = t.file
            elif first[t.repo] != t.file:
                from cardgen.loading.yamlpos import locate
                from cardgen.resolve import described_twice as cg307

                twice.diags.append(cg307(t.repo, locate(t.file, t.path), first[t.repo]))
                twice.files.add(t.file)
                twice.again.add((t.repo, t.file))
    return twice


def unbuilt(repo: str, files: Iterable[str], where: tuple[str, tuple[Any, ...]] | Where,
            hidden: Sequence[Diagnostic]) -> Diagnostic | None:
    """CG311 at a card not rendered because a file it is built from has errors that the run does not
    report (the file is outside the paths given: its base card's), or None."""
    mine = set(files)
    causes = [d for d in hidden if d.severity == "error" and d.file in mine]
    if not causes:
        return None
    if not isinstance(where, Where):
        from cardgen.loading.yamlpos import locate

        where = locate(*where)
    first, n = causes[0], len(causes)
    return error(where, "CG311", f"{repo} is not rendered: {first.file}, which it is built from, has "
                                 f"{n} error{'s' * (n != 1)}, the first at {first.line}:{first.col}: {first.code} "
                                 f"{first.message}")


def nothing_rendered(scope: Scope, folders: list[Path], ordered: Sequence[tuple[str, Record | Head]],
                     again: set[tuple[str, str]], diags: list[Diagnostic]) -> list[Diagnostic]:
    """CG312 at each path given that selects card folders from which no README is rendered, when nothing
    else in the run is an error (a run that reports no error must have built what it was asked about)."""
    if any(d.severity == "error" for d in diags):
        return []
    records = dict(ordered)
    out = []
    for path in [scope.root] if scope.whole else scope.wanted:
        top, file = (str(path.parent), True) if path.is_file() else (str(path), False)
        under = [f for f in map(str, folders) if f == top or not file and f.startswith(top + os.sep)]
        built = [r for f in under if (rec := records.get(f)) for r in rec.rendered
                 if r.digest is not None and (r.repo, r.where[0]) not in again]
        if under and not built:
            n = len(under)
            out.append(error(Where(display(path)), "CG312", f"{display(path)} selects {n} card folder{'s' * (n != 1)}, "
                                                            "from which no README is rendered"))
    return out
