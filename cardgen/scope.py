"""Which cards a command covers, worked out once: the ``Selection`` of the paths a user names.

Each path is a cards folder (or a folder or file inside one), or a published README. Card sources
are grouped by the cards folder they belong to (a ``Scope``: the root, and the part asked for);
every later stage asks the scope which card folders to load and which diagnostics to keep.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SHARED_DIR = "_shared"
YAML_SUFFIXES = (".yaml", ".yml")
README_SUFFIXES = (".md", ".txt", ".markdown")


def find_root(path: Path) -> Path:
    """The cards folder a path belongs to: the nearest ancestor named `cards` or holding `_shared`."""
    path = path.resolve()
    start = path if path.is_dir() else path.parent
    for p in (start, *start.parents):
        if p.name == "cards" or (p / SHARED_DIR).is_dir():
            return p
    return start


#: folders below a cards folder that hold no card sources
NOT_CARDS = (SHARED_DIR, "_templates", ".git")


def is_yaml(name: str) -> bool:
    """A card source: `.yaml` or `.yml`, in any case (`card.YAML` is not skipped)."""
    return name.lower().endswith(YAML_SUFFIXES)


def yaml_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if is_yaml(p.name) and p.is_file())
    except OSError:
        return []


def walk_cards(root: Path, under: Path | None = None) -> tuple[list[Path], list[Path]]:
    """(card folders, links that lead outside ``root``) below ``under`` (default: root): every folder
    holding card YAML, outside `_shared`, template folders and `.git`. Linked folders are followed
    while they stay inside ``root``; one that leaves it is returned, never read."""
    from .files import inside

    base = (under or root).absolute()
    if base.is_file():
        return [base.parent], []
    top = root.resolve()
    out: list[Path] = []
    escapes: list[Path] = []
    seen: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
        here = Path(dirpath)
        real = here.resolve()
        if real in seen:  # a link back into the tree: each folder once
            dirnames[:] = []
            continue
        seen.add(real)
        keep = []
        for d in sorted(dirnames):
            if d in NOT_CARDS:
                continue
            if (here / d).is_symlink() and not inside(here / d, root):
                escapes.append(here / d)
                continue
            keep.append(d)
        dirnames[:] = keep
        if real != top and any(is_yaml(f) for f in filenames):
            out.append(here)
    return out, escapes


def card_folders(root: Path, under: Path | None = None) -> list[Path]:
    """The card folders below ``under`` (see ``walk_cards``)."""
    return walk_cards(root, under)[0]


def is_readme(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in README_SUFFIXES


@dataclass(frozen=True)
class Scope:
    """One cards folder and the part of it asked for (all of it when ``whole``)."""

    root: Path  # resolved
    wanted: tuple[Path, ...]  # resolved paths under root

    @property
    def whole(self) -> bool:
        return any(w == self.root for w in self.wanted)

    def folders(self) -> list[Path]:
        """The card folders in scope, each once, in order."""
        return self.walk()[0]

    def walk(self) -> tuple[list[Path], list[Path]]:
        """(card folders in scope, links that lead outside the cards folder)."""
        folders: list[Path] = []
        escapes: list[Path] = []
        for p in [self.root] if self.whole else self.wanted:
            f, e = walk_cards(self.root, p)
            folders += f
            escapes += e
        return list(dict.fromkeys(folders)), list(dict.fromkeys(escapes))

    def keeps(self, file: str | Path) -> bool:
        """Whether a run over this scope reports on ``file`` (its card files and `_shared`)."""
        if self.whole:
            return True
        keep = tuple(str(w) for w in self.wanted) + (str(self.root / SHARED_DIR),)
        return str(Path(file).resolve()).startswith(keep)


@dataclass(frozen=True)
class Selection:
    """What the paths of one command name: card-source scopes and README files."""

    scopes: tuple[Scope, ...]
    readmes: tuple[Path, ...]


class NothingToCheck(Exception):
    """A path names neither card sources nor READMEs."""


def readmes_under(folder: Path, skip: set[Path]) -> list[Path]:
    """Published cards below a folder: every `README.md` in a folder below it (`org/name/README.md`),
    not inside card folders, hidden or `_` folders; and, in a folder without card sources, the markdown
    files directly in it (a flat folder of saved cards)."""
    flat = not skip
    out = [p for p in sorted(folder.iterdir()) if flat and p.is_file() and p.suffix.lower() in (".md", ".markdown")]
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")) and (here / d).resolve() not in skip)
        if here != folder and "README.md" in filenames:
            out.append(here / "README.md")
    return out


def select(paths: list[Path]) -> Selection:
    """Group the paths by cards folder; README files stand apart. A folder holding card sources is
    a scope; the READMEs below a folder (outside its card folders) are checked too. A path with
    nothing to check raises ``NothingToCheck``."""
    roots: dict[Path, list[Path]] = {}
    readmes: list[Path] = []
    for p in paths:
        if p.is_file():
            if is_readme(p):
                readmes.append(p)
            elif is_yaml(p.name):  # a source file stands for its card folder (a card may span files)
                roots.setdefault(find_root(p), []).append(p.resolve().parent)
            else:
                raise NothingToCheck(f"{p} is neither a card source (.yaml, .yml) nor a README (.md)")
            continue
        root = find_root(p)
        folders, escapes = walk_cards(root, p)
        if folders or escapes:
            roots.setdefault(root, []).append(p.resolve())
        found = readmes_under(p, {f.resolve() for f in folders}) if p.is_dir() else []
        if not folders and not escapes and not found:
            raise NothingToCheck(f"nothing to validate under {p}: no card sources (`*.yaml` in card folders) "
                                 "and no README files")
        readmes += found
    return Selection(tuple(Scope(r, tuple(w)) for r, w in roots.items()), tuple(dict.fromkeys(readmes)))
