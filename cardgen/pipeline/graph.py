"""The dependency graph of a cards folder, kept between runs: what each card folder's READMEs were
built from, and what building them gave.

Every card folder has a record (``records.Record``): the content hash of each input its cards were built from (its own
sources, the sources of the cards it extends, the shared files its references come from, the
templates on its search path, the Hub vocabulary), the names of its source files, and what the
run found: diagnostics, the repo ids it describes, and for each README the hash of its text. The
texts themselves are kept beside the records, keyed by their hash. The whole record is keyed by the
run's environment (cardgen's code, the libraries that render and lint, the Python version, the
policy): a change there starts afresh.

A later run hashes each folder's inputs again (a file whose ``stat`` signature is as a run kept it is not
read again: ``stats``): a folder whose inputs all hash the same, and whose
source files are the same, is *fresh* and its record is replayed; every other folder is loaded,
checked and rendered again. A base card's change reaches every card that extends or embeds it,
because its files are among their inputs; a template's, every card that used it.

The graph can only err towards rebuilding. An input is hashed with where its path leads (links
resolved), so a link pointed elsewhere is a change; a file the build read is hashed from the bytes it
read (``files.READS``), so a file edited while the run goes on is seen as changed by the next run. A
name that resolved to no shared entry is an input of its card (``absent:KIND/ID``, hashed as whether
the shared files define it now), and so is the file of every entry resolution found; while the shared
sources have errors or an id defined twice, every folder is rebuilt (which entry a duplicated id names
depends on all of them).

The records and texts are kept in a store (``store``), one SQLite file per cards folder in the cache
folder, sealed under this user's key; a store that cannot be used is never an error, the run goes on
without it.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen.pipeline.stats import Stats, settled, signature

if TYPE_CHECKING:
    from cardgen.cache import FileView
    from cardgen.card import Card

SCHEMA = 3
DIR = "dir:"  # an input that is a folder of templates: which it holds (a new one may stand in for cardgen's)
ENTRY = "entry:"  # an input that is one entry of a shared file (`entry:FILE#ID`): its data and its nodes' places
MISSING = "-"  # what ``Hasher.sigs`` says of an input path that was not there
ABSENT = "absent:"  # an input that is a name resolution found in no shared file (`absent:KIND/ID`): added, it counts


def sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data).hexdigest()


def environment(policy: Any, root: Path) -> str:
    """What every record depends on beyond its own inputs: cardgen's code and data, the versions of
    the libraries that load, render and lint, the Python version, the policy and the cards folder."""
    here = Path(__file__).parents[1]  # the cardgen package, every module and data file of it
    h = hashlib.sha256()
    now = time.time_ns()
    for folder, dirs, files in os.walk(here):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith((".py", ".j2", ".json", ".yaml", ".txt"))):
            path = os.path.join(folder, name)
            h.update(os.path.relpath(path, here).encode())
            h.update(_code_file(path, now))
    libs = [f"{name}={v}" for name, v in versions(LIBRARIES).items()]
    from cardgen.evals.benchmarks import state  # the benchmarks' eval.yaml files the task checks read

    return sha("\n".join([str(SCHEMA), h.hexdigest(), *libs, sys.version, repr(policy), str(root), state()]))


def _code_file(path: str, now: int) -> bytes:
    """What the environment's key takes of one of cardgen's files: its signature (``stats.signature``)
    while it was last written well before ``now`` (``stats.settled``: a later write gives it another
    change time), else its content; the two never hash alike, so a file that settles changes the key once."""
    st = os.stat(path)
    if settled(st, now):
        return b"\0stat " + signature(st).encode()
    with open(path, "rb") as fh:
        return b"\0content " + fh.read()


#: the libraries whose versions decide what a card loads, renders and lints to
LIBRARIES = ("jinja2", "markdown-it-py", "huggingface_hub", "pydantic", "PyYAML", "nh3")


def versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions, read from the `<name>-<version>.dist-info` folder names a wheel installs
    (PEP 427; one listing of each folder on sys.path), else from importlib.metadata ("-": not installed).
    importlib.metadata alone costs a warm run more than the rest of its work together."""
    import re

    want = {re.sub(r"[-_.]+", "_", n).lower(): n for n in names}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            listing = os.listdir(entry or ".")
        except OSError:
            continue
        for item in listing:
            stem = item[: -len(".dist-info")]
            if item.endswith(".dist-info") and stem.count("-") == 1:  # the suffix has a dash of its own
                dist, version = stem.split("-")
                key = re.sub(r"[-_.]+", "_", dist).lower()
                if key in want and want[key] not in found:
                    found[want[key]] = version
        if len(found) == len(want):
            break
    missing = [n for n in names if n not in found]
    if missing:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as metadata_version

        for n in missing:
            try:
                found[n] = metadata_version(n)
            except PackageNotFoundError:
                found[n] = "-"
    return {n: found[n] for n in names}


class Hasher:
    """Content hashes of a run's inputs, each taken once (``None``: the file is gone).

    A file's hash covers where its path leads (links resolved) and its content: from ``reads`` (the
    bytes a build read, ``files.READS``) when it was read, else from ``before`` (hashes taken before the
    build), else from the disk now: through ``stats`` (``stats.Stats``: a file whose signature is as the
    last runs kept it is not read again) when given."""

    def __init__(self, reads: Mapping[str, str] | None = None, before: Hasher | None = None,
                 defined: frozenset[str] = frozenset(), stats: Stats | None = None,
                 entries: Mapping[str, str] | None = None) -> None:
        self._files: dict[str, str | None] = {}
        self._sets: dict[str, str] = {}
        self._folders: dict[str, str] = {}  # folder -> its real path
        self._reads = reads if reads is not None else {}  # the very mapping: it fills as the build reads
        self._before = before._files if before is not None else {}
        self.defined = defined  # `KIND/ID` of every entry the shared files define (``shared_ids``)
        self.stats = stats
        self.entries: Mapping[str, str] = entries if entries is not None else {}  # ``entry_hashes``
        self._sigs: dict[str, str] = {}  # path -> what ``sig`` gives, for the files hashed through ``stats``

    def file(self, path: str) -> str | None:
        """An input's hash: a file's; for ``dir:FOLDER`` the templates that folder holds (None when there is
        no such folder); for ``absent:KIND/ID``, whether the shared files define that entry now (None:
        they do not)."""
        if path not in self._files:
            self._files[path] = self._hash(path)
        return self._files[path]

    def sigs(self) -> dict[str, str]:
        """What tells a later run, without hashing, that each input this hasher has hashed so far (taken
        before a build reads them) is as it was (``index``): a file's signature (``stats``: one this run
        found its kept hash good for, or took with a new hash; links and files not hashed through ``stats``
        have none), ``MISSING`` for a path that was not there; for ``dir:`` and ``entry:`` their hash."""
        out = dict(self._sigs)
        out.update((p, self._marked(p)) for p in self._files if p.startswith((DIR, ENTRY)))
        return out

    def _marked(self, path: str) -> str:
        """The signature of a ``dir:`` or ``entry:`` input: its hash, marked with its kind, or ``MISSING``."""
        h = self.file(path)
        return MISSING if h is None else path[0] + h

    def same(self, path: str, sig: str) -> bool:
        """Whether an input is as ``sig`` (what ``sigs`` gave in an earlier run) says: a file with that very
        signature and no link, a path still missing, a template folder or shared entry with that hash."""
        if path.startswith((DIR, ENTRY)):
            return sig == self._marked(path)
        try:
            lst = os.lstat(path)
        except OSError:
            return sig == MISSING
        return sig != MISSING and stat.S_ISREG(lst.st_mode) and signature(lst) == sig

    def _hash(self, path: str) -> str | None:
        if path.startswith(ABSENT):
            return "defined" if path[len(ABSENT):] in self.defined else None
        if path.startswith(ENTRY):
            return self.entries.get(path)
        if path.startswith(DIR):
            folder = path[len(DIR):]
            if not os.path.isdir(folder):
                return None
            names = sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*.j2"))
            return sha("\n".join([os.path.realpath(folder), *names]))
        content = self._reads.get(path)
        if content is None and path in self._before:
            return self._before[path]
        if content is None and self.stats is not None:
            try:  # one lstat says both whether the path is a link and, when it is not, the file's signature
                lst = os.lstat(path)
            except OSError:
                self._sigs[path] = MISSING
                return None
            link = stat.S_ISLNK(lst.st_mode)
            content = self.stats.sha(path, None if link else lst)
            if content is None:
                return None
            if not link and (kept := self.stats.kept(path)) is not None:
                self._sigs[path] = kept
            return sha(f"{self._real(path, lst)}\0{content}")
        if content is None:
            try:
                with open(path, "rb") as f:
                    content = sha(f.read())
            except OSError:
                return None
        return sha(f"{self._real(path)}\0{content}")

    def _real(self, path: str, lst: os.stat_result | None = None) -> str:
        """``os.path.realpath`` of an absolute path, each folder resolved once: a file or folder that is
        no link is its folder's real path and its name (one ``lstat``, where realpath takes one per part
        of the path; none when ``lst`` is the path's)."""
        if (hit := self._folders.get(path)) is not None:
            return hit
        head, name = os.path.split(path)
        try:
            link = head == path or name in ("", ".", "..") or stat.S_ISLNK((lst or os.lstat(path)).st_mode)
        except OSError:
            link = True
        return os.path.realpath(path) if link else os.path.join(self._folder(head), name)

    def real_folder(self, path: str) -> str:
        """``os.path.realpath`` of an absolute folder path, each folder resolved once."""
        return self._folder(path)

    def _folder(self, path: str) -> str:
        if (hit := self._folders.get(path)) is None:
            hit = self._folders[path] = self._real(path)
        return hit

    def digest(self, own: Iterable[str], common: str, paths: Mapping[str, list[str]]) -> str:
        """The hash of a folder's inputs: its own files and a common set (by id) of other files."""
        if common not in self._sets:
            self._sets[common] = sha("\n".join(f"{p}\0{self.file(p)}" for p in paths.get(common, [])))
        return sha("\n".join([*(f"{p}\0{self.file(p)}" for p in sorted(own)), self._sets[common]]))


def bare(path: str) -> str:
    """An input's path, without its mark (``dir:``, ``absent:``; for ``entry:``, its file)."""
    if path.startswith(ENTRY):
        return path[len(ENTRY):].rpartition("#")[0]
    return path.split(":", 1)[1] if path.startswith((DIR, ABSENT)) else path


@lru_cache(maxsize=65536)
def entry(file: str, kind: str, key: str) -> str:
    """The input that is one entry of a shared file (absolute, no link), named by a hash of its id."""
    return f"{ENTRY}{file}#{sha(kind + chr(0) + key)[:24]}"


def entry_hashes(sources: Iterable[Any]) -> dict[str, str]:
    """The hash of every entry of the shared sources (``loading.sources.Source``), by its input name
    (``entry``): where its file leads, its id, its data, and the place of every node and key in it (a
    diagnostic may name any of them), so that an entry moved down by a line above it is a change."""
    import json

    out: dict[str, str] = {}
    for src in sources:
        for doc in src.docs:
            if not isinstance(doc.data, dict):
                continue
            places, keys = doc.places()
            nodes: dict[tuple[Any, Any], list[Any]] = {}
            for table in (places, keys):
                for path, at in table.items():
                    if len(path) >= 2:
                        nodes.setdefault((path[0], path[1]), []).append([table is keys, list(path), list(at)])
            file = os.path.abspath(doc.file)
            real = os.path.realpath(file)
            for kind, entries in doc.data.items():
                if not isinstance(entries, dict):
                    continue
                for key, value in entries.items():
                    if not isinstance(key, str):
                        continue
                    body = json.dumps([real, kind, key, value, sorted(nodes.get((kind, key), []), key=str)],
                                      sort_keys=True, default=str)
                    out[entry(file, str(kind), key)] = sha(body)
    return out


def shared_ids(sources: Iterable[Any]) -> list[str]:
    """`KIND/ID` of every entry the shared sources (``loading.sources.Source``) write, refused or not,
    sorted; an id written in two files is there twice."""
    return sorted(f"{kind}/{key}" for src in sources for kind, table in src.data.items() if isinstance(table, dict)
                  for key in table)


def touches(inputs: Iterable[str], changed: frozenset[str], shared: str,
            real: Callable[[str], str] = os.path.realpath) -> bool:
    """Whether a change set (absolute paths, links resolved) reaches these inputs: one of them, a template
    that a template folder holds or would hold (``dir:``), the file of an entry (``entry:``), or any file
    of the ``shared`` folder for a name found in none (``absent:``: the file may define it). ``real``
    resolves a folder's links (a run asking about every folder resolves each template folder once)."""
    folders = set()
    for p in inputs:
        if p in changed:
            return True
        if p.startswith(ENTRY):
            if bare(p) in changed:
                return True
        elif p.startswith(DIR):
            folders.add((".j2", real(bare(p)) + os.sep))
        elif p.startswith(ABSENT):
            folders.add(("", real(shared) + os.sep))
    return any(f.startswith(folder) and f.endswith(suffix) for suffix, folder in folders for f in changed)


def split_inputs(folder: Path, inputs: Iterable[str]) -> tuple[list[str], list[str]]:
    """A folder's inputs as (its own, the others): the others are shared by many folders. The names its
    cards found in no shared file are its own (they differ from card to card)."""
    prefix = str(folder) + os.sep
    mine = (ABSENT, prefix, DIR + prefix)  # a name found nowhere, a file or a template folder below the folder
    own: list[str] = []
    other: list[str] = []
    for p in sorted(inputs):
        (own if p.startswith(mine) else other).append(p)
    return own, other


# -- what a card folder is built from --------------------------------------------------------------

def folder_inputs(folder: Path, cards: list[Card], names: list[str], view: FileView) -> set[str]:
    """Every input of a folder's cards (``Card.inputs``, the template folders they may use, the names
    that resolved to no shared entry) and its source files, there or not. A shared file the cards use
    only for its entries (no link on its path) is replaced by those entries (``entry``): a change to one
    entry reaches the cards that use it, not every card of the file."""
    out = set().union(*(c.inputs(view) | template_folders(c, view) | missed(c) for c in cards))
    out |= {p for n in names for p in view.paths(str(folder / n))}
    by_file: dict[str, set[str]] = {}
    absolute: dict[str, str] = {}  # each file's absolute path, taken once
    for shown, kind, key in used(cards):
        file = absolute.get(shown) or absolute.setdefault(shown, os.path.abspath(shown))
        by_file.setdefault(file, set()).add(entry(file, kind, key))
    for file, entries in by_file.items():
        if file in out and view.paths(file) == {file}:
            out.discard(file)
            out |= entries
    return out


def used(cards: Iterable[Card]) -> set[tuple[str, str, str]]:
    """The shared entries the cards use (``Card.used``), their bases' too."""
    out: set[tuple[str, str, str]] = set()
    for c in cards:
        node: Card | None = c
        while node is not None:
            out |= node.used
            node = node.base
    return out


def template_folders(card: Card, view: FileView) -> set[str]:
    """The folders whose templates a card's README may use, there or not yet (``graph.DIR`` inputs): its
    own `templates` folder, its organisation's `_templates`, each on its search path, and its bases'. Taken
    once per folder and search path in a run (``view.dirs``: a family's cards share them, and each names its
    base's again)."""
    key = (str(card.src.folder), card.templates)
    if (dirs := view.dirs.get(key)) is None:
        folder = key[0]
        dirs = view.dirs[key] = frozenset({DIR + os.path.abspath(t) for t in card.templates} | {
            DIR + os.path.abspath(os.path.join(folder, "templates")),
            DIR + os.path.abspath(os.path.join(os.path.dirname(folder), "_templates"))})
    return set(dirs) | (template_folders(card.base, view) if card.base is not None else set())


def missed(card: Card) -> set[str]:
    """The names a card's resolution found in no shared file (``graph.ABSENT`` inputs), its bases' too."""
    out = {f"{ABSENT}{kind}/{name}" for kind, name in card.missed}
    return out | (missed(card.base) if card.base is not None else set())
