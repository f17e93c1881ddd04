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


def yaml_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file())
    except OSError:
        return []


def card_folders(root: Path, under: Path | None = None) -> list[Path]:
    """Folders below ``under`` (default: root) holding card YAML, outside `_shared` and template folders."""
    base = (under or root).resolve()
    if base.is_file():
        return [base.parent]
    top = str(root.resolve())
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d != SHARED_DIR and not d.startswith((".", "_")))
        if dirpath != top and any(f.endswith(YAML_SUFFIXES) for f in filenames):
            out.append(Path(dirpath))
    return out


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
        folders: list[Path] = []
        for p in [self.root] if self.whole else self.wanted:
            folders += card_folders(self.root, p)
        return list(dict.fromkeys(folders))

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
            else:
                roots.setdefault(find_root(p), []).append(p.resolve())
            continue
        root = find_root(p)
        folders = card_folders(root, p)
        if folders:
            roots.setdefault(root, []).append(p.resolve())
        found = readmes_under(p, {f.resolve() for f in folders}) if p.is_dir() else []
        if not folders and not found:
            raise NothingToCheck(f"nothing to validate under {p}: no card sources (`*.yaml` in card folders) "
                                 "and no README files")
        readmes += found
    return Selection(tuple(Scope(r, tuple(w)) for r, w in roots.items()), tuple(dict.fromkeys(readmes)))
