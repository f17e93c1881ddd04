"""Validation: load the sources, resolve them and run every check; or check a README's front matter.

This is the pre-commit path: it imports no Jinja, markdown-it or transformers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import checks, risks
from .diagnostics import Diagnostic, error, sort_unique
from .loader import loads, read_text
from .resolve import Card, Resolver, section_text
from .sources import Project, SHARED_DIR, card_folders, display, find_root, load_card, load_project


@dataclass
class Result:
    root: Path | None
    cards: list[Card] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    resolver: Resolver | None = None

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


def validate_sources(paths: list[Path], jobs: int | None = None) -> list[Result]:
    """Validate card sources; one Result per cards folder touched by ``paths``. Card folders are
    read by ``jobs`` worker processes when there are many (default: one per CPU)."""
    return [validate_group(root, wanted, jobs) for root, wanted in groups(paths).items()]


def groups(paths: list[Path]) -> dict[Path, list[Path]]:
    """The paths asked for, by the cards folder each belongs to."""
    out: dict[Path, list[Path]] = {}
    for p in paths:
        out.setdefault(find_root(p), []).append(p.resolve())
    return out


def is_whole(root: Path, wanted: list[Path]) -> bool:
    return any(w == root for w in wanted)


def keeps(root: Path, wanted: list[Path]):
    """A predicate on file names: what a run over only ``wanted`` reports (their files and _shared)."""
    keep = tuple(str(w) for w in wanted) + (str(root / SHARED_DIR),)
    return lambda file: str(Path(file).resolve()).startswith(keep)


def validate_group(root: Path, wanted: list[Path], jobs: int | None = None) -> Result:
    whole = is_whole(root, wanted)
    project = load_project(root, None if whole else wanted, jobs)
    if not whole:
        load_missing_bases(project)
    res = check_project(project)
    if not whole:
        keep = keeps(root, wanted)
        res.cards = [c for c in res.cards if keep(c.src.folder)]
        res.diagnostics = [d for d in res.diagnostics if keep(d.file)]
    return res


def load_missing_bases(project: Project) -> None:
    """When only some folders were asked for, load the cards they extend (by the usual folder name,
    else every folder)."""
    loaded = {c.folder.resolve() for c in project.cards}
    known = {r for c in project.cards if c.model for r in ([c.model.repo_id] if c.model.repo_id else
                                                            [m.repo_id for m in c.model.suite or []])}
    todo = [c.model.extends for c in project.cards if c.model and c.model.extends]
    while todo:
        repo = todo.pop()
        if repo in known:
            continue
        folder = (project.root / repo).resolve()
        candidates = [folder] if folder.is_dir() and project.root.resolve() in folder.parents else []
        candidates = candidates or card_folders(project.root)
        for f in candidates:
            if f.resolve() in loaded:
                continue
            src, diags = load_card(f, project.root)
            loaded.add(f.resolve())
            if src.docs:
                project.cards.append(src)
                project.diagnostics += diags
                if src.model:
                    ids = [src.model.repo_id] if src.model.repo_id else [m.repo_id for m in src.model.suite or []]
                    known.update(ids)
                    if src.model.extends:
                        todo.append(src.model.extends)
            if repo in known:
                break


def check_project(project: Project, catalogue: bool = True) -> Result:
    """Resolve and check a project. ``catalogue=False`` leaves out the checks of the shared
    mitigation catalogue against every card (a worker that sees only some cards cannot make them)."""
    resolver = Resolver(project)
    cards = resolver.all_cards()
    diags = list(project.diagnostics) + resolver.diags
    diags += _shared_citation_keys(resolver)
    for card in cards:
        diags += checks.check_card(card)
        diags += risks.check(card)
        for r in card.sections:
            _, d = section_text(r, project.root)
            if d:
                diags.append(d)
    if catalogue:
        diags += risks.check_catalogue(resolver, cards)
    return Result(project.root, cards, sort_unique(diags), resolver)


def _shared_citation_keys(resolver: Resolver) -> list[Diagnostic]:
    out, seen = [], {}
    for ident, ref in resolver.registry.entries.get("citations", {}).items():
        key = ref.value.key
        if key in seen:
            f, p = ref.src.pos((*ref.path, "key"))
            out.append(error(f, p, "CG306", f"citation key {key!r} is also used by shared citation {seen[key]!r}"))
        seen.setdefault(key, ident)
    return out


def validate_readme(path: Path) -> list[Diagnostic]:
    """Check the front matter of a Hub README (a published card) against the Hub's rules."""
    from .frontmatter import split

    shown = display(path)
    text, diags = read_text(path, shown)
    if text is None:
        return diags
    block, body, first = split(text)
    if block is None:
        return [error(shown, (1, 1), "CG209", "no front matter (`---` block) at the top of the README")]
    doc, d = loads(block if block.strip() else "{}", shown)
    if doc is None:
        return [x.__class__(x.file, x.line + first - 1, x.col, x.code, x.message, x.severity) for x in d]
    d = [x.__class__(x.file, x.line + first - 1, x.col, x.code, x.message, x.severity) for x in d]
    if not isinstance(doc.data, dict):
        return d + [error(shown, (first, 1), "CG101", "the front matter must be a mapping")]

    def locate(p: tuple):
        line, col = doc.key_pos(p) if len(p) == 1 else doc.pos(p)
        return shown, (line + first - 1, col)

    return sort_unique(d + checks.check_metadata(doc.data, locate, body))


def is_readme(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".md", ".txt", ".markdown")
