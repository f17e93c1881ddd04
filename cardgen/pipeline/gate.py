"""What a run through the dependency graph reports beyond what its cards' own checks found: a repository
described in two folders (CG307, judged over every record), and a dependency-graph store that could not
be used, said once (CG010, a warning: the run went on without it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cardgen.diagnostics import Diagnostic, Where, warning
from cardgen.files import display

if TYPE_CHECKING:
    from cardgen.pipeline.records import Record
    from cardgen.pipeline.store import Store


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


def described_twice(ordered: list[tuple[str, Record]]) -> Twice:
    """What a single resolver sees across all folders: a repository that a later folder describes again
    (in another file) is reported there, and that description is no card."""
    first: dict[str, str] = {}  # repo id -> the file that describes it first
    twice = Twice([], set(), set())
    for _, rec in ordered:
        for t in rec.targets:
            if t.repo not in first:
                first[t.repo] = t.file
            elif first[t.repo] != t.file:
                from cardgen.loading.sources import locate
                from cardgen.resolve import described_twice as cg307

                twice.diags.append(cg307(t.repo, locate(t.file, t.path), first[t.repo]))
                twice.files.add(t.file)
                twice.again.add((t.repo, t.file))
    return twice


def store_problem(store: Store) -> list[Diagnostic]:
    """CG010, once, when the scope's dependency-graph store could not be used."""
    if store.problem is None:
        return []
    if store.afresh and store.usable:
        said = f"was damaged ({store.problem}) and is started afresh; every card folder was rebuilt"
    else:
        said = f"cannot be used ({store.problem}); the run went on without it"
    return [warning(Where(display(store.path)), "CG010", f"the dependency graph's store {said}")]
