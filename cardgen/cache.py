"""What cardgen reuses, and for how long.

* ``RunCache``: made by the pipeline for one run and dropped with it (forked workers inherit it):
  one Jinja environment per template search path, holding its compiled templates, and the partials
  found on each path; and the run's ``FileView`` (real paths, the templates in each folder of a search
  path, the vocabulary files: what a card's README is built from, looked at once per run). Nothing in it
  outlives the run, so an edited template is always seen.
* On disk, in ``$CARDGEN_CACHE_DIR`` (default ``~/.cache/cardgen``; ``off`` or ``--no-cache`` keeps
  nothing): Jinja's own bytecode cache of compiled templates, keyed by each template's source, so a
  stale entry is never read; and the dependency graph (``pipeline.graph``). What either keeps is sealed
  with an HMAC under this user's ``key()``: an entry not sealed with it (planted, altered, or copied
  from another cache without its key) is never loaded.

Pure functions of their input (the lint of a README part, a repo id's verdict) are memoised where
they are defined, keyed by that input alone.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2


@lru_cache(maxsize=1)
def folder() -> str | None:
    """The persistent cache folder, or None (turned off, or not writable)."""
    where = os.environ.get("CARDGEN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "cardgen")
    if where == "off":
        return None
    try:
        os.makedirs(where, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=where, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError:
        return None
    return where


def key() -> bytes | None:
    """This user's key for sealing what the cache keeps (``<cache folder>/key``: 32 random bytes, made
    once, readable by this user alone); None when there is no cache folder or the key cannot be kept
    there safely (then nothing is kept between runs)."""
    where = folder()
    return None if where is None else _read_key(os.path.join(where, "key"))


def _read_key(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    except FileExistsError:
        pass
    except OSError:  # a read-only or full cache folder: nothing can be kept
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_uid != os.getuid() or st.st_mode & 0o077:
                return None
            k = f.read(33)
    except OSError:
        return None
    return k if len(k) == 32 else None


def _is_link(path: str) -> bool:
    """Whether a path is a link; a path that is not there is none (realpath keeps its name)."""
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


@dataclass
class FileView:
    """What one run sees of the file system, each thing looked at once (a run sees one state of it)."""

    real: dict[str, str] = field(default_factory=dict)  # path -> os.path.realpath(path)
    both: dict[str, frozenset[str]] = field(default_factory=dict)  # path -> ``paths(path)``
    templates: dict[str, frozenset[str]] = field(default_factory=dict)  # folder -> its `*.j2`, real paths
    vocabulary: frozenset[str] | None = None  # the Hub vocabulary files cardgen carries, real paths
    dirs: dict[tuple[str, tuple[str, ...]], frozenset[str]] = field(default_factory=dict)  # (folder, search
    # path) -> the template folders its cards may use (``graph.template_folders``)

    def realpath(self, path: str) -> str:
        """``os.path.realpath``: a path that is no link (one ``lstat``) is its folder's real path and its
        name, each folder resolved once (where realpath takes an ``lstat`` per part of the path)."""
        if (hit := self.real.get(path)) is None:
            head, name = os.path.split(path)
            if not head or not name or name in (".", "..") or ".." in path or _is_link(path):
                hit = os.path.realpath(path)
            else:
                hit = os.path.join(self.realpath(head), name)
            self.real[path] = hit
        return hit

    def paths(self, path: str) -> frozenset[str]:
        """A file as an input: where it leads (links resolved) and, when that differs, the path as
        written, absolute (a link's own path: pointed elsewhere, it hashes otherwise)."""
        if (hit := self.both.get(path)) is None:
            hit = self.both[path] = frozenset((self.realpath(path), os.path.abspath(path)))
        return hit

    def templates_in(self, folder: str) -> frozenset[str]:
        """The templates in a folder of a search path, there or not yet (``paths`` of each)."""
        if (hit := self.templates.get(folder)) is None:
            from pathlib import Path

            hit = self.templates[folder] = frozenset(q for p in Path(folder).rglob("*.j2") for q in self.paths(str(p)))
        return hit

    def vocabulary_files(self) -> frozenset[str]:
        if self.vocabulary is None:
            from pathlib import Path

            from cardgen.hubspec import DATA

            self.vocabulary = frozenset(os.path.realpath(p) for p in [*Path(DATA).glob("*.json"),
                                                                      Path(DATA).parent / "benchmarks.json"])
        return self.vocabulary


@dataclass
class RunCache:
    """What one run reuses across its cards (see the module's docstring)."""

    environments: dict[tuple[str, ...], jinja2.Environment] = field(default_factory=dict)
    partials: dict[tuple[tuple[str, ...], str], jinja2.Template | None] = field(default_factory=dict)
    files: FileView = field(default_factory=FileView)
