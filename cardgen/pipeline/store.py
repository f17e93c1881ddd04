"""The dependency graph's store (``graph``): one SQLite file per cards folder, holding each card
folder's record, the common input sets the records name, the scope's memos, the README texts and the
files' kept signatures and hashes (``stats``: one value, sealed once, read by every run).

It is used only if this user owns it and no one else may write to it. Each record is sealed with an
HMAC under this user's key (``cache.key()``): a record altered, or copied from another cache, is not
trusted and its folder is rebuilt; a text read back must hash to its key, or the folder is rebuilt.
With the cache turned off the store lives in a temporary folder for one run.

A store that cannot be used (a damaged file, a full disk, a read-only file or folder, a lock held too
long) is never an error: every use of it goes through a guard, and the first failure turns it off for
the rest of the run (``Store.problem`` says why; the run reports it once, CG010). Then it has no
records, so every folder is rebuilt, it saves nothing, and the texts are kept in memory. A damaged
file is removed and started afresh: it holds nothing a run cannot build again.
"""

from __future__ import annotations

import atexit
import contextlib
import hmac
import json
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cardgen.diagnostics import Diagnostic, Where, warning
from cardgen.files import display, ours_alone
from cardgen.pipeline.graph import sha
from cardgen.pipeline.records import Memo, Record
from cardgen.pipeline.stats import Entry


def _json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None


@contextmanager
def _tx(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction (the connection is in autocommit mode otherwise)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _damaged(e: BaseException) -> bool:
    """Whether an error says the file is no SQLite database, or a damaged one."""
    name = getattr(e, "sqlite_errorname", "")
    return name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or any(
        m in str(e) for m in ("file is not a database", "malformed"))


def _reason(e: BaseException) -> str:
    if isinstance(e, OSError):
        return f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}"
    return str(e) or type(e).__name__


#: what a store that cannot be used raises: SQLite's errors, and the system's (a full disk, a read-only file)
FAILURES = (sqlite3.Error, OSError)


class Store:
    """The records and the README texts of one cards folder (see the module's docstring).

    Every use of the file goes through a guard: the first error (``problem``) turns the store off for
    the rest of the run. Then it has no records (every folder is rebuilt), saves nothing, and keeps the
    texts it is given in memory (a worker that cannot store its texts returns them instead)."""

    def __init__(self, root: Path, env: str) -> None:
        from cardgen.cache import folder, key

        self.env = env
        self.problem: str | None = None  # why the store could not be used (reported once by the run)
        self.usable = False  # records can be read and written (off after the first failure)
        self.readable = False  # texts can be read (off after a failure to read or open)
        self.rebuild: Callable[[str], str | None] | None = None  # a README's text when it cannot be read back
        self.afresh = False  # it was damaged, and is started afresh (``problem`` says how)
        self.said = False  # ``warnings`` gave the problem
        self.memory: dict[str, str] = {}  # texts kept in memory (hash -> text)
        self.empty = False  # it held no record and no text when opened
        self._local = threading.local()
        top = folder()
        where = os.path.join(top, "graph") if top else None
        self.key = key() if where else None
        try:
            if where is not None:
                os.makedirs(where, mode=0o700, exist_ok=True)
                if not ours_alone(where):
                    raise OSError(f"{where} is not this user's alone")
                if self.key is None:
                    raise OSError(f"no key can be kept in {top}")
        except OSError as e:
            self.problem, where = _reason(e), None
        self.persistent = where is not None
        if where is None:
            try:
                where = tempfile.mkdtemp(prefix="cardgen-graph-")
            except OSError as e:
                self.path = os.path.join(tempfile.gettempdir(), "cardgen-graph")
                self._fail(e, reading=True)
                return
            atexit.register(shutil.rmtree, where, True)
            self.key = os.urandom(32)
        assert self.key is not None
        self.path = os.path.join(where, sha(str(root))[:32] + ".sqlite")
        self._start()

    def _start(self) -> None:
        """Open the file; one that is damaged is removed and started afresh (it holds nothing but what
        runs can build again)."""
        try:
            self._open()
        except FAILURES as e:
            if not (_damaged(e) and self._afresh(e)):
                self._fail(e, reading=True)
            return
        self.usable = self.readable = True

    def warnings(self) -> list[Diagnostic]:
        """CG010 when the store could not be used, said once (the texts are read after the run's report
        is made, and may be the first to fail)."""
        if self.problem is None or self.said:
            return []
        self.said = True
        if self.afresh and self.usable:
            said = f"was damaged ({self.problem}) and is started afresh; every card folder was rebuilt"
        else:
            said = f"cannot be used ({self.problem}); the run went on without it"
        return [warning(Where(display(self.path)), "CG010", f"the dependency graph's store {said}")]

    def _afresh(self, e: BaseException) -> bool:
        """Remove a damaged file and open a new one in its place; whether that worked."""
        self._close()
        try:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path + suffix)
            self._open()
        except FAILURES as again:
            self._fail(again, reading=True)
            return False
        self.problem, self.afresh = self.problem or _reason(e), True
        self.usable = self.readable = True
        return True

    def _fail(self, e: BaseException, reading: bool = False) -> None:
        """Turn the store off for the rest of the run, keeping the first reason; the texts it holds are
        still read unless ``reading`` failed."""
        self.problem = self.problem or _reason(e)
        self.usable, self.afresh = False, False
        self.readable = self.readable and not reading
        self._close()

    def _close(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local = threading.local()
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _open(self) -> None:
        new = not os.path.exists(self.path)
        if new:
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        if not ours_alone(self.path):
            raise OSError(f"{self.path} is not this user's alone")
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
        # a store that held no record and no text when opened (a cold run) has no older text to drop
        self.empty = all(db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() is None for t in ("folders", "texts"))

    @property
    def db(self) -> sqlite3.Connection:
        """A connection of this thread and process (a forked worker opens its own)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._local.conn, self._local.pid = conn, os.getpid()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    # -- records ---------------------------------------------------------------------------------
    def records(self, folders: list[str] | None = None) -> dict[str, Record]:
        """The records of these folders (None: of every folder); one that does not read as a record is left
        out (its folder is rebuilt). A file found damaged here is started afresh."""
        out: dict[str, Record] = {}
        if not self.usable:
            return out
        try:
            if folders is None:
                rows = self.db.execute("SELECT folder, record FROM folders").fetchall()
            else:  # a scoped run: only its folders' records are read and checked
                rows = [row for i in range(0, len(folders), 500) for row in self.db.execute(
                    f"SELECT folder, record FROM folders WHERE folder IN ({','.join('?' * len(folders[i:i + 500]))})",
                    folders[i:i + 500]).fetchall()]
            for f, r in rows:
                rec = Record.from_sealed(_json(self._opened(f, r)))
                if rec is not None:
                    out[f] = rec
        except FAILURES as e:
            if not (_damaged(e) and self._afresh(e)):
                self._fail(e, reading=True)
            return {}
        return out

    def _sealed(self, folder: str, record: str) -> str:
        assert self.key is not None
        return hmac.digest(self.key, f"{folder}\0{record}".encode("utf-8", "surrogatepass"), "sha256").hex() + record

    def _opened(self, folder: str, value: Any) -> str | None:
        """A record this store's key sealed, or None (altered, or from another key: a copied cache)."""
        if not isinstance(value, str) or len(value) < 64:
            return None
        record = value[64:]
        return record if hmac.compare_digest(self._sealed(folder, record)[:64], value[:64]) else None

    # -- the files' signatures and hashes (``stats``): one value, sealed once -----------------------
    def stats(self) -> dict[str, Entry]:
        """Every file's kept signature and hash (``stats.Entry``), by path; none when they do not read back
        under this store's seal (each file is then read again)."""
        if not self.usable:
            return {}
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key='stats'").fetchone()
        except FAILURES as e:
            self._fail(e, reading=True)
            return {}
        if row is None or not isinstance(row[0], str) or len(row[0]) < 64:
            return {}
        body = row[0][64:]
        if not hmac.compare_digest(self._sealed("stats:", body)[:64], row[0][:64]):
            return {}
        parts = body.split("\0")  # path, entry, path, entry, ... (no path holds a NUL)
        if len(parts) % 2:
            return {}
        return dict(zip(parts[::2], parts[1::2], strict=True)) if body else {}

    def blobs(self, prefix: str) -> dict[str, str]:
        """Every text kept whole whose key starts with ``prefix`` (key -> text); none when one of them does
        not read back under this store's seal."""
        if not self.usable:
            return {}
        try:
            rows = self.db.execute("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?",
                                   (len("blob:" + prefix), "blob:" + prefix)).fetchall()
        except FAILURES as e:
            self._fail(e, reading=True)
            return {}
        out = {}
        for key, value in rows:
            text = self._opened(key, value)
            if text is None:
                return {}
            out[key[len("blob:"):]] = text
        return out

    def folders(self) -> list[str]:
        """The folders the store has a record of."""
        if not self.usable:
            return []
        try:
            # in the key's order: from the primary key's index alone, not the records' pages
            return [f for (f,) in self.db.execute("SELECT folder FROM folders ORDER BY folder").fetchall()]
        except FAILURES as e:
            self._fail(e, reading=True)
            return []

    def sets(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if not self.usable:
            return out
        try:
            rows = self.db.execute("SELECT id, paths FROM sets").fetchall()
        except FAILURES as e:
            self._fail(e, reading=True)
            return {}
        for i, p in rows:
            paths = _json(p)
            if isinstance(paths, list) and all(isinstance(x, str) for x in paths):
                out[i] = paths
        return out

    def get(self, key: str) -> Any:
        if not self.usable:
            return None
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        except FAILURES as e:
            self._fail(e, reading=True)
            return None
        return None if row is None else _json(self._opened("meta:" + key, row[0]))

    def memo(self, key: str) -> Memo | None:
        """A memo kept for the whole scope, or None when there is none (or it does not read as one)."""
        return Memo.from_json(self.get(key))

    def save(self, records: Mapping[str, Record], sets: Mapping[str, list[str]], gone: Iterable[str],
             meta: Mapping[str, Any], stats: Mapping[str, Entry] | None = None,
             blobs: Mapping[str, str] | None = None) -> None:
        """Write the new records (and their common input sets), drop the folders that are gone and the
        texts no record names any more, and keep the scope's ``meta`` values (JSON) and ``blobs`` (texts;
        nothing once the store is off)."""
        if not self.usable:
            return
        try:
            self._save(records, sets, gone, meta, stats, blobs or {})
        except FAILURES as e:
            self._fail(e)

    def _save(self, records: Mapping[str, Record], sets: Mapping[str, list[str]], gone: Iterable[str],
              meta: Mapping[str, Any], stats: Mapping[str, Entry] | None, blobs: Mapping[str, str]) -> None:
        db = self.db
        with _tx(db):
            for k, text in blobs.items():
                db.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", ("blob:" + k, self._sealed("blob:" + k, text)))
            if stats is not None:
                body = "\0".join(x for item in stats.items() for x in item)
                db.execute("INSERT OR REPLACE INTO meta VALUES('stats', ?)", (self._sealed("stats:", body),))
            db.executemany("INSERT OR REPLACE INTO sets VALUES(?, ?)", [(i, json.dumps(p)) for i, p in sets.items()])
            for folder, rec in records.items():
                sealed = self._sealed(folder, json.dumps(rec.to_json()))
                db.execute("INSERT OR REPLACE INTO folders VALUES(?, ?)", (folder, sealed))
                if not self.empty:  # the texts of the folder's earlier records
                    keep = [r.digest for r in rec.rendered if r.digest]
                    db.execute(f"DELETE FROM texts WHERE folder=? AND sha NOT IN ({','.join('?' * len(keep))})",
                               (folder, *keep))
            for folder in gone:
                db.execute("DELETE FROM folders WHERE folder=?", (folder,))
                db.execute("DELETE FROM texts WHERE folder=?", (folder,))
            for k, v in meta.items():
                db.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)",
                           (k, self._sealed("meta:" + k, json.dumps(v))))

    # -- texts -----------------------------------------------------------------------------------
    def put_texts(self, items: list[tuple[str, str, str]]) -> bool:
        """Store (hash, folder, text) of rendered READMEs (called by the worker that rendered them);
        False when they could not be stored (the caller keeps them)."""
        if not self.usable:
            return False
        try:
            with _tx(self.db) as db:
                db.executemany("INSERT OR REPLACE INTO texts VALUES(?, ?, ?)", items)
        except FAILURES as e:
            self._fail(e)
            return False
        return True

    def keep_texts(self, items: Iterable[tuple[str, str, str]]) -> None:
        """Keep texts in memory (the store could not take them)."""
        self.memory.update((digest, text) for digest, _, text in items)

    def texts(self, digests: list[str]) -> dict[str, str]:
        """The README texts with these hashes, read in a few queries: each that is there and hashes to its
        key (a missing or altered one is left out)."""
        out = {d: self.memory[d] for d in digests if d in self.memory}
        want = [d for d in dict.fromkeys(digests) if d not in out]
        if not want or not self.readable:
            return out
        try:
            for i in range(0, len(want), 500):
                part = want[i:i + 500]
                rows = self.db.execute(f"SELECT sha, text FROM texts WHERE sha IN ({','.join('?' * len(part))})",
                                       part).fetchall()
                out.update((d, t) for d, t in rows if isinstance(t, str) and sha(t) == d)
        except FAILURES as e:
            self._fail(e, reading=True)
        return out

    def text(self, digest: str) -> str | None:
        """The README text with this hash, or None when it is missing or does not hash to it."""
        if digest in self.memory:
            return self.memory[digest]
        if not self.readable:
            return None
        try:
            row = self.db.execute("SELECT text FROM texts WHERE sha=?", (digest,)).fetchone()
        except FAILURES as e:
            self._fail(e, reading=True)
            return None
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
        if text is None and store.rebuild is not None:  # the store cannot give it back: built again
            text = store.rebuild(repo)
        if text is None:  # removed or altered behind this run's back
            raise KeyError(f"{repo}: its rendered text is gone from {store.path}")
        return text

    def many(self, repos: list[str]) -> dict[str, str]:
        """The texts of these repos, read from their stores a batch at a time (``Store.texts``); one the
        store cannot give back is read as ``__getitem__`` reads it (built again), or left out."""
        by_store: dict[int, tuple[Store, list[str]]] = {}
        for repo in repos:
            digest, store = self.digests[repo]
            by_store.setdefault(id(store), (store, []))[1].append(digest)
        found: dict[str, str] = {}
        for store, digests in by_store.values():
            found.update(store.texts(digests))
        out = {}
        for repo in repos:
            text = found.get(self.digests[repo][0])
            if text is None:
                with contextlib.suppress(KeyError):
                    text = self[repo]
            if text is not None:
                out[repo] = text
        return out

    def __iter__(self) -> Iterator[str]:
        return iter(self.digests)

    def __len__(self) -> int:
        return len(self.digests)

    def __contains__(self, repo: object) -> bool:
        return repo in self.digests

    def warnings(self) -> list[Diagnostic]:
        """What the stores the texts were read from have not said yet (``Store.warnings``)."""
        stores = {id(store): store for _, store in self.digests.values()}
        return [w for store in stores.values() for w in store.warnings()]
