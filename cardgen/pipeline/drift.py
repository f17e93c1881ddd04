"""Drift: the committed READMEs against what the sources give (`cardgen check` and `diff`).

``drift`` renders a selection through the dependency graph (``incremental``) and compares each text
with the README under the output folder; ``unified`` and ``front_matter_changes`` say how two READMEs
differ (publish and import use them too); ``readme_changes`` names the committed READMEs among a set
of changed files.
"""

from __future__ import annotations

import difflib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.diagnostics import Collector, Diagnostic
from cardgen.files import committed, readme_path
from cardgen.loading.scope import Selection
from cardgen.pipeline.incremental import render_incremental
from cardgen.pipeline.run import Rendering
from cardgen.pipeline.store import Texts
from cardgen.policy import Policy


def unified(old: str | None, new: str, path: str) -> str:
    return "".join(difflib.unified_diff(
        (old or "").splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f"a/{path}" if old is not None else "/dev/null", tofile=f"b/{path}"))


@dataclass
class Drift:
    readme: Path
    state: str  # missing | out of date
    diff: str
    front_matter: list[tuple[str, Any, Any]] = field(default_factory=list)  # (key, committed, rendered) that differ


def front_matter_changes(old: str | None, new: str) -> list[tuple[str, Any, Any]]:
    """The front-matter keys whose values differ between two READMEs: (key, old value, new value)."""
    from cardgen.frontmatter import mapping, split

    a, b = (mapping(split(t)[0] if t else None) for t in (old, new))
    return [(str(k), a.get(k), b.get(k)) for k in dict.fromkeys([*a, *b]) if _key(a.get(k)) != _key(b.get(k))]


def _key(v: Any) -> str:
    """A value as compared: NaN is equal to NaN here (YAML's `.nan` written twice is no change)."""
    import json

    return json.dumps(v, sort_keys=True, default=str)


def readme_changes(changed: frozenset[str], out: Path) -> frozenset[str]:
    """``repo:<id>`` for each committed README under ``out`` among the changed files."""
    root = out.resolve()
    marks = set()
    for f in changed:
        try:
            rel = Path(f).relative_to(root)
        except ValueError:
            continue
        if len(rel.parts) == 3 and rel.parts[2] == "README.md":
            marks.add(f"repo:{rel.parts[0]}/{rel.parts[1]}")
    return frozenset(marks)


def drift(selection: Selection, out: Path, jobs: int | None = None, policy: Policy | None = None,
          changed: frozenset[str] | None = None,
          notes: list[str] | None = None) -> tuple[list[Diagnostic], list[Drift], int]:
    """Render in memory and compare with the committed READMEs under ``out``; with ``changed``, only the
    cards whose inputs (or committed README) are among those files."""
    rendering = against_committed(selection, out, jobs, policy, changed, notes)
    report = Collector(rendering.diagnostics)
    drifted = []
    top = str(out)
    for repo in sorted(rendering.texts):
        extras = rendering.extras.get(repo, {})
        if repo in rendering.same and not extras and not _results_folder(os.path.join(top, repo)):
            continue  # the committed README is the text, and nothing is beside it
        p = readme_path(out, repo)
        drifted += _extras(p.parent, extras, rendering, repo, report)
        if repo in rendering.same:
            continue
        try:
            text = rendering.texts[repo]
        except KeyError as e:  # another run replaced it in the store meanwhile
            report.error(rendering.position(repo), "CG008", f"{p} not compared: {e}; run again")
            continue
        old = committed(p)
        if old != text:
            state = "missing" if old is None else "out of date"
            drifted.append(Drift(p, state, unified(old, text, str(p)), front_matter_changes(old, text)))
            report.error(rendering.position(repo), "CG708", f"{p} is {state}")
    if isinstance(rendering.texts, Texts):  # a store that failed only when the texts were read
        report.extend(rendering.texts.warnings())
    return report.diagnostics, drifted, len(rendering.texts) + len(rendering.failed)


def _results_folder(folder: str) -> bool:
    """Whether a README's folder holds a `.eval_results` folder (no link to one): one lstat, and most have none."""
    from cardgen.evals.entries import FOLDER

    try:
        return stat.S_ISDIR(os.lstat(os.path.join(folder, FOLDER)).st_mode)
    except OSError:
        return False


def stale(folder: Path, files: dict[str, str]) -> list[Path]:
    """The `.eval_results/*.yaml` files beside a README that its sources no longer give."""
    from cardgen.evals.entries import FOLDER

    if not _results_folder(str(folder)):
        return []
    here = folder / FOLDER
    return sorted(p for p in here.glob("*.yaml") if f"{FOLDER}/{p.name}" not in files)


def _extras(folder: Path, files: dict[str, str], rendering: Rendering, repo: str, report: Collector) -> list[Drift]:
    """The files beside a README (`.eval_results/`) that differ from what the sources give, or are stale."""
    out = []
    for rel, text in sorted(files.items()):
        p = folder / rel
        old = committed(p)
        if old != text:
            state = "missing" if old is None else "out of date"
            out.append(Drift(p, state, unified(old, text, str(p))))
            report.error(rendering.position(repo), "CG708", f"{p} is {state}")
    for p in stale(folder, files):
        out.append(Drift(p, "stale", unified(committed(p), "", str(p))))
        report.error(rendering.position(repo), "CG708", f"{p} is stale: the sources give no such results file")
    return out


def against_committed(selection: Selection, out: Path, jobs: int | None, policy: Policy | None,
                      changed: frozenset[str] | None, notes: list[str] | None) -> Rendering:
    """Render through the graph for comparing with (or writing over) the committed READMEs under ``out``:
    with ``changed``, a committed README among the changed files marks its card too; the graph's note is
    added to ``notes``. What `render` and `check` both start from."""
    rendering = render_incremental(selection, jobs, policy,
                                   changed=None if changed is None else changed | readme_changes(changed, out),
                                   readmes=out)
    if notes is not None and rendering.folders:
        notes.append(rendering.graph_note())
    return rendering
