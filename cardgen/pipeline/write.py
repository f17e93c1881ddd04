"""Writing the rendered READMEs: ``render_to`` renders a selection through the dependency graph
(``incremental``) and replaces each README that changed, atomically, never through a link out of the
output folder."""

from __future__ import annotations

from pathlib import Path

from cardgen.diagnostics import Collector, Diagnostic
from cardgen.files import atomic_write, clean_leftovers, committed, escaping_link, file_mode, readme_path
from cardgen.loading.scope import Selection
from cardgen.pipeline.drift import against_committed, stale
from cardgen.pipeline.run import Rendering
from cardgen.pipeline.store import Texts
from cardgen.policy import Policy

#: the READMEs written together: their texts are read from the store in a few queries, and only a batch's
#: texts are held at once
WRITE_BATCH = 256


def render_to(selection: Selection, out: Path, jobs: int | None = None, policy: Policy | None = None,
              changed: frozenset[str] | None = None,
              notes: list[str] | None = None) -> tuple[list[Diagnostic], list[tuple[Path, str]]]:
    """Render and write each README that changed; (diagnostics, [(path, 'written' | 'unchanged')])."""
    rendering = against_committed(selection, out, jobs, policy, changed, notes)
    report = Collector(rendering.diagnostics)
    written = []
    todo: list[tuple[str, Path]] = []
    owners: dict[str, Path | None] = {}  # each owner folder checked once
    for repo in sorted(rendering.texts):
        p = readme_path(out, repo)
        owner = repo.split("/")[0]
        if owner not in owners:
            owners[owner] = escaping_link(out / owner, out)
        link = owners[owner] or (p.parent if p.parent.is_symlink() and escaping_link(p.parent, out) else None)
        if link is not None:  # never write through a link out of --out
            report.error(rendering.position(repo), "CG304", f"{link} is a link to {link.resolve()}, outside "
                                                            f"{out}: {repo} not written")
            continue
        clean_leftovers(p.parent)
        written += _extras(p.parent, rendering.extras.get(repo, {}), rendering, repo, report)
        if repo in rendering.same:
            written.append((p, "unchanged"))
            continue
        todo.append((repo, p))
    # the READMEs are derived (render writes them again from the sources, `check` finds one that is not
    # what the sources give), like a site generator's pages: each is replaced atomically (never a torn
    # file), not synced to the disk (two syncs per file cost more than the rest of the write, and one
    # os.sync() at the end would flush every other program's writes too); the texts are read from the
    # store a batch at a time (a few queries), so they are never all held at once; one thread writes them
    # (threads overlapping these small writes spent more on the interpreter's lock than they saved)
    mode = file_mode()
    for start in range(0, len(todo), WRITE_BATCH):
        part = todo[start:start + WRITE_BATCH]
        batch = rendering.texts.many([r for r, _ in part]) if isinstance(rendering.texts, Texts) else {}
        for repo, p in part:
            try:
                text = batch[repo] if repo in batch else rendering.texts[repo]
            except KeyError as e:  # another run replaced it in the store meanwhile
                problem: str | None = str(e)
            else:
                problem = _write(p, text, mode)
            if problem == "unchanged":
                written.append((p, "unchanged"))
            elif problem:
                report.error(rendering.position(repo), "CG008", f"cannot write {p}: {problem}")
            else:
                written.append((p, "written"))
    if isinstance(rendering.texts, Texts):  # a store that failed only when the texts were read
        report.extend(rendering.texts.warnings())
    return report.diagnostics, written


def _write(path: Path, text: str, mode: int) -> str | None:
    """Write one README over its committed copy when it differs: None, "unchanged", or why it could not
    be written."""
    if committed(path) == text:
        return "unchanged"
    try:
        atomic_write(path, text, mode, sync=False, tidy=False)  # ``render_to`` cleaned the folder
    except OSError as e:
        return e.strerror or str(e)
    return None


def _extras(folder: Path, files: dict[str, str], rendering: Rendering, repo: str,
            report: Collector) -> list[tuple[Path, str]]:
    """The files beside a README (`.eval_results/`): each written atomically when it changed, a file the
    sources no longer give removed."""
    out: list[tuple[Path, str]] = []
    if (folder / ".eval_results").is_symlink():  # never written through a link
        report.error(rendering.position(repo), "CG304", f"{folder / '.eval_results'} is a link: {repo}'s "
                                                        "evaluation results not written")
        return out
    for rel, text in sorted(files.items()):
        p = folder / rel
        if committed(p) == text:
            out.append((p, "unchanged"))
            continue
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(p, text, file_mode(), sync=False)
        except OSError as e:
            report.error(rendering.position(repo), "CG008", f"cannot write {p}: {e.strerror or e}")
            continue
        out.append((p, "written"))
    for p in stale(folder, files):
        try:
            p.unlink()
        except OSError as e:
            report.error(rendering.position(repo), "CG008", f"cannot remove {p}: {e.strerror or e}")
            continue
        out.append((p, "removed"))
    return out
