"""Which cards a command covers, worked out once: the ``Selection`` of the paths a user names.

Each path is a cards folder (or a folder or file inside one), or a published README. Card sources
are grouped by the cards folder they belong to (a ``Scope``: the root, and the part asked for);
every later stage asks the scope which card folders to load and which diagnostics to keep.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from cardgen.diagnostics import UsageError

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
    return [folder / n for n in yaml_names(folder)]


#: the card sources of each card folder the walks of this command found (``select`` starts it afresh)
LISTED: dict[str, list[str]] = {}

#: the links to folders inside the cards folder that the walks of this command followed (``select`` starts it
#: afresh): a file below one is not where its path says (``pipeline.index`` trusts no path then)
LINKED: set[str] = set()


def yaml_names(folder: Path | str) -> list[str]:
    """The names of the card sources in a folder, sorted (as this command's walk saw them)."""
    if (known := LISTED.get(str(folder))) is not None:
        return list(known)
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it if is_yaml(e.name) and e.is_file())
    except OSError:
        return []


class Walk(NamedTuple):
    folders: list[Path]  # card folders
    escapes: list[Path]  # links that lead outside the cards folder (never followed)
    readmes: list[Path]  # `README.md` files in folders below that hold no card sources


def walk_cards(root: Path, under: Path | None = None) -> Walk:
    """One walk below ``under`` (default: root): every folder holding card YAML, outside `_shared`,
    template folders and `.git`; the links that leave ``root`` (returned, never read); and the
    `README.md` files of the other folders below (published cards, `org/name/README.md`)."""
    from cardgen.files import inside

    base = (under or root).absolute()
    if base.is_file():
        return Walk([base.parent], [], [])
    top = os.stat(root)
    out: list[Path] = []
    escapes: list[Path] = []
    readmes: list[Path] = []
    seen: set[tuple[int, int]] = set()
    # os.scandir, depth first in name order, as os.walk(followlinks=True) with sorted folder names would
    # go, but knowing from each entry whether it is a link without asking the disk again
    stack: list[tuple[str, tuple[str, ...]]] = [(str(base), ())]
    while stack:
        dirpath, rel = stack.pop()
        try:
            st = os.stat(dirpath)
            with os.scandir(dirpath) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:  # a link back into the tree: each folder once
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs: list[str] = []
        files: list[str] = []
        for e in entries:
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                files.append(e.name)
            elif e.name in NOT_CARDS:
                continue
            elif e.is_symlink() and not inside(Path(e.path), root):
                escapes.append(Path(e.path))
            else:
                if e.is_symlink():
                    LINKED.add(e.path)
                dirs.append(e.name)
        here = Path(dirpath)
        if any(is_yaml(f) for f in files) and (st.st_dev, st.st_ino) != (top.st_dev, top.st_ino):
            out.append(here)
            LISTED[dirpath] = sorted(e.name for e in entries if is_yaml(e.name) and e.is_file())
        elif "README.md" in files and rel and not any(part.startswith((".", "_")) for part in rel):
            readmes.append(here / "README.md")
        stack += [(os.path.join(dirpath, d), (*rel, d)) for d in sorted(dirs, reverse=True)]
    return Walk(out, escapes, readmes)


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
    found: tuple[tuple[Path, ...], tuple[Path, ...]] | None = field(default=None, compare=False)  # walked already

    @property
    def whole(self) -> bool:
        return any(w == self.root for w in self.wanted)

    def folders(self) -> list[Path]:
        """The card folders in scope, each once, in order."""
        return self.walk()[0]

    def walk(self) -> tuple[list[Path], list[Path]]:
        """(card folders in scope, links that lead outside the cards folder)."""
        if self.found is not None:
            return list(self.found[0]), list(self.found[1])
        folders: list[Path] = []
        escapes: list[Path] = []
        for p in [self.root] if self.whole else self.wanted:
            f, e, _ = walk_cards(self.root, p)
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


class NothingToCheck(UsageError):
    """A path names neither card sources nor READMEs."""


def select(paths: list[Path]) -> Selection:
    """Group the paths by cards folder; README files stand apart. A folder holding card sources is
    a scope; the READMEs below a folder (outside its card folders) are checked too. A path with
    nothing to check raises ``NothingToCheck``."""
    LISTED.clear()
    LINKED.clear()
    roots: dict[Path, list[Path]] = {}
    walked: dict[Path, tuple[list[Path], list[Path]]] = {}
    readmes: list[Path] = []
    for p in paths:
        if p.is_file():
            if is_readme(p):
                readmes.append(p)
            elif is_yaml(p.name) and p.resolve().parent.name in NOT_CARDS:
                # a shared source: every card may use it, so the whole cards folder is in scope
                root = find_root(p)
                roots.setdefault(root, []).append(root)
                folders, escapes, _ = walk_cards(root)
                f, e = walked.setdefault(root, ([], []))
                f += folders
                e += escapes
            elif is_yaml(p.name):  # a source file stands for its card folder (a card may span files)
                root = find_root(p)
                roots.setdefault(root, []).append(p.resolve().parent)
                f, e = walked.setdefault(root, ([], []))
                f.append(p.absolute().parent)
            else:
                raise NothingToCheck(f"{p} is neither a card source (.yaml, .yml) nor a README (.md)")
            continue
        root = find_root(p)
        folders, escapes, nested = walk_cards(root, p)
        if folders or escapes:
            roots.setdefault(root, []).append(p.resolve())
            f, e = walked.setdefault(root, ([], []))
            f += folders
            e += escapes
        # a flat folder of saved cards: its own markdown files, where it holds no card sources
        flat = [] if folders or not p.is_dir() else [
            x for x in sorted(p.iterdir()) if x.is_file() and x.suffix.lower() in (".md", ".markdown")]
        found = flat + nested
        if not folders and not escapes and not found:
            raise NothingToCheck(f"nothing to validate under {p}: no card sources (`*.yaml` in card folders) "
                                 "and no README files")
        readmes += found
    scopes = []
    for r, w in roots.items():
        f, e = walked.get(r, ([], []))
        scopes.append(Scope(r, tuple(w), (tuple(dict.fromkeys(f)), tuple(dict.fromkeys(e)))))
    return Selection(tuple(scopes), tuple(dict.fromkeys(readmes)))
