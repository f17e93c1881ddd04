"""The dependency graph of a cards folder, kept between runs: what each card folder's READMEs were
built from, and what building them gave.

Every card folder has a record (``records.Record``): the content hash of each input its cards were built from (its own
sources, the sources of the cards it extends, the shared files its references come from, the
templates on its search path, the Hub vocabulary), the names of its source files, and what the
run found: diagnostics, the repo ids it describes, and for each README the hash of its text. The
texts themselves are kept beside the records, keyed by their hash. The whole record is keyed by the
run's environment (cardgen's code, the libraries that render and lint, the Python version, the
policy): a change there starts afresh.

A later run hashes each folder's inputs again: a folder whose inputs all hash the same, and whose
source files are the same, is *fresh* and its record is replayed; every other folder is loaded,
checked and rendered again. A base card's change reaches every card that extends or embeds it,
because its files are among their inputs; a template's, every card that used it.

The store is one SQLite file per cards folder in the cache folder (``cache.folder()``), used only if
this user owns it and no one else may write to it. Each record is sealed with an HMAC under a key
only this user may read (``cache.key()``): a record altered, or copied from another cache, is not
trusted and its folder is rebuilt; a text read back must hash to its key, or the folder is rebuilt.
With the cache turned off the same store lives in a temporary folder for one run.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cardgen.files import ours_alone
from cardgen.pipeline.records import Memo, Record

SCHEMA = 1
DIR = "dir:"  # an input that is a folder of templates: what it holds, not what is in each file


def _json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None


def sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data).hexdigest()


def environment(policy: Any, root: Path) -> str:
    """What every record depends on beyond its own inputs: cardgen's code and data, the versions of
    the libraries that load, render and lint, the Python version, the policy and the cards folder."""
    here = Path(__file__).parents[1]  # the cardgen package, every module and data file of it
    h = hashlib.sha256()
    for folder, dirs, files in os.walk(here):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith((".py", ".j2", ".json", ".yaml", ".txt"))):
            path = os.path.join(folder, name)
            h.update(os.path.relpath(path, here).encode())
            with open(path, "rb") as fh:
                h.update(fh.read())
    libs = [f"{name}={v}" for name, v in versions(LIBRARIES).items()]
    return sha("\n".join([str(SCHEMA), h.hexdigest(), *libs, sys.version, repr(policy), str(root)]))


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
            if item.endswith(".dist-info") and item.count("-") == 1:
                dist, version = item[: -len(".dist-info")].split("-")
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
    """Content hashes of files, each file read once per run (``None``: the file is gone)."""

    def __init__(self) -> None:
        self._files: dict[str, str | None] = {}
        self._sets: dict[str, str] = {}

    def file(self, path: str) -> str | None:
        """A file's content hash; for ``dir:FOLDER``, the hash of the templates that folder holds (a new
        template there may stand in for cardgen's), None when there is no such folder."""
        if path not in self._files and path.startswith(DIR):
            folder = path[len(DIR):]
            self._files[path] = sha("\n".join(sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*.j2")))) \
                if os.path.isdir(folder) else None
        if path not in self._files:
            try:
                with open(path, "rb") as f:
                    self._files[path] = sha(f.read())
            except OSError:
                self._files[path] = None
        return self._files[path]

    def digest(self, own: Iterable[str], common: str, paths: Mapping[str, list[str]]) -> str:
        """The hash of a folder's inputs: its own files and a common set (by id) of other files."""
        if common not in self._sets:
            self._sets[common] = sha("\n".join(f"{p}\0{self.file(p)}" for p in paths.get(common, [])))
        return sha("\n".join([*(f"{p}\0{self.file(p)}" for p in sorted(own)), self._sets[common]]))


def split_inputs(folder: Path, inputs: Iterable[str]) -> tuple[list[str], list[str]]:
    """A folder's inputs as (its own files, the others): the others are shared by many folders."""
    prefix = str(folder) + os.sep
    own: list[str] = []
    other: list[str] = []
    for p in sorted(inputs):
        (own if p.removeprefix(DIR).startswith(prefix) else other).append(p)
    return own, other


@contextmanager
def _tx(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction (the connection is in autocommit mode otherwise)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class Store:
    """The records and the README texts of one cards folder (see the module's docstring)."""

    def __init__(self, root: Path, env: str) -> None:
        from cardgen.cache import folder, key

        self.env = env
        top = folder()
        where = os.path.join(top, "graph") if top else None
        if where is not None:
            try:
                os.makedirs(where, mode=0o700, exist_ok=True)
            except OSError:
                where = None
        if where is None or not ours_alone(where):
            where = tempfile.mkdtemp(prefix="cardgen-graph-")
            atexit.register(shutil.rmtree, where, True)
            self.persistent = False
        else:
            self.persistent = True
        self.path = os.path.join(where, sha(str(root))[:32] + ".sqlite")
        self.key = (key() if self.persistent else None) or os.urandom(32)
        self._local = threading.local()
        try:
            self._open()
        except sqlite3.Error:  # a damaged or foreign file: start afresh in a temporary one
            where = tempfile.mkdtemp(prefix="cardgen-graph-")
            atexit.register(shutil.rmtree, where, True)
            self.path, self.persistent = os.path.join(where, "graph.sqlite"), False
            self.key = os.urandom(32)
            self._local = threading.local()
            self._open()

    def _open(self) -> None:
        new = not os.path.exists(self.path)
        if new:
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        if not ours_alone(self.path):
            raise sqlite3.DatabaseError(f"{self.path} is not this user's alone")
        db = self.db
        db.executescript(
            "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
            "CREATE TABLE IF NOT EXISTS folders(folder TEXT PRIMARY KEY, record TEXT);"
            "CREATE TABLE IF NOT EXISTS sets(id TEXT PRIMARY KEY, paths TEXT);"
            "CREATE TABLE IF NOT EXISTS texts(sha TEXT PRIMARY KEY, folder TEXT, text TEXT);"
            "CREATE INDEX IF NOT EXISTS texts_folder ON texts(folder);"
        )
        row = db.execute("SELECT value FROM meta WHERE key='env'").fetchone()
        if row is None or row[0] != self.env:
            with _tx(db):
                db.execute("DELETE FROM folders")
                db.execute("DELETE FROM sets")
                db.execute("DELETE FROM texts")
                db.execute("DELETE FROM meta")
                db.execute("INSERT INTO meta VALUES('env', ?)", (self.env,))

    @property
    def db(self) -> sqlite3.Connection:
        """A connection of this thread and process (a forked worker opens its own)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    # -- records ---------------------------------------------------------------------------------
    def records(self) -> dict[str, Record]:
        """The folders' records; one that does not read as a record is left out (its folder is rebuilt)."""
        out = {}
        for f, r in self.db.execute("SELECT folder, record FROM folders"):
            rec = Record.from_json(_json(self._opened(f, r)))
            if rec is not None:
                out[f] = rec
        return out

    def _sealed(self, folder: str, record: str) -> str:
        return hmac.new(self.key, f"{folder}\0{record}".encode("utf-8", "surrogatepass"), "sha256").hexdigest() + record

    def _opened(self, folder: str, value: Any) -> str | None:
        """A record this store's key sealed, or None (altered, or from another key: a copied cache)."""
        if not isinstance(value, str) or len(value) < 64:
            return None
        record = value[64:]
        return record if hmac.compare_digest(self._sealed(folder, record)[:64], value[:64]) else None

    def sets(self) -> dict[str, list[str]]:
        out = {}
        for i, p in self.db.execute("SELECT id, paths FROM sets"):
            paths = _json(p)
            if isinstance(paths, list) and all(isinstance(x, str) for x in paths):
                out[i] = paths
        return out

    def get(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else _json(self._opened("meta:" + key, row[0]))

    def memo(self, key: str) -> Memo | None:
        """A memo kept for the whole scope, or None when there is none (or it does not read as one)."""
        return Memo.from_json(self.get(key))

    def save(self, records: Mapping[str, Record], sets: Mapping[str, list[str]], gone: Iterable[str],
             meta: Mapping[str, Memo]) -> None:
        """Write the new records (and their common input sets), drop the folders that are gone and the
        texts no record names any more."""
        db = self.db
        with _tx(db):
            db.executemany("INSERT OR REPLACE INTO sets VALUES(?, ?)", [(i, json.dumps(p)) for i, p in sets.items()])
            for folder, rec in records.items():
                sealed = self._sealed(folder, json.dumps(rec.to_json()))
                db.execute("INSERT OR REPLACE INTO folders VALUES(?, ?)", (folder, sealed))
                keep = [r.digest for r in rec.rendered if r.digest]
                db.execute(f"DELETE FROM texts WHERE folder=? AND sha NOT IN ({','.join('?' * len(keep))})",
                           (folder, *keep))
            for folder in gone:
                db.execute("DELETE FROM folders WHERE folder=?", (folder,))
                db.execute("DELETE FROM texts WHERE folder=?", (folder,))
            for k, v in meta.items():
                db.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)",
                           (k, self._sealed("meta:" + k, json.dumps(v.to_json()))))

    # -- texts -----------------------------------------------------------------------------------
    def put_texts(self, items: list[tuple[str, str, str]]) -> None:
        """(hash, folder, text) of rendered READMEs (called by the worker that rendered them)."""
        with _tx(self.db) as db:
            db.executemany("INSERT OR REPLACE INTO texts VALUES(?, ?, ?)", items)

    def text(self, digest: str) -> str | None:
        """The README text with this hash, or None when it is missing or does not hash to it."""
        row = self.db.execute("SELECT text FROM texts WHERE sha=?", (digest,)).fetchone()
        return row[0] if row is not None and sha(row[0]) == digest else None


class Texts(Mapping[str, str]):
    """The READMEs of a run, repo id → text, read from their store one at a time when asked for."""

    def __init__(self) -> None:
        self.digests: dict[str, tuple[str, Store]] = {}

    def add(self, repo: str, digest: str, store: Store) -> None:
        self.digests[repo] = (digest, store)

    def digest(self, repo: str) -> str:
        return self.digests[repo][0]

    def __getitem__(self, repo: str) -> str:
        digest, store = self.digests[repo]
        text = store.text(digest)
        if text is None:  # removed or altered behind this run's back
            raise KeyError(f"{repo}: its rendered text is gone from {store.path}")
        return text

    def __iter__(self) -> Iterator[str]:
        return iter(self.digests)

    def __len__(self) -> int:
        return len(self.digests)

    def __contains__(self, repo: object) -> bool:
        return repo in self.digests
