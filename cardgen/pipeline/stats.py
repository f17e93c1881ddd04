"""Content hashes of files kept between runs beside what ``stat`` said of each file (git's index rule),
so that a warm run reads only the files that may have changed.

A file's hash is kept with its signature: size, modification and change times (nanoseconds), inode and
device. A later run takes the kept hash without reading the file only when the signature is the same;
any other file is read and hashed again. Every write to a file sets its change time to the clock's time
then (no program can set it back, ``os.utime`` included), and a file replaced by another has another
inode, so a file changed since its hash was taken has another signature, with one exception: a write in
the same tick of the file system's clock as the moment the hash was taken. A hash is therefore kept only
when the file's modification and change times are at least ``MARGIN_NS`` older than that moment (git's
"racily clean" entries); a file changed later has a change time past the kept one.

This trusts the file system to keep a change time (POSIX; not kept on Windows, where every file is
read), its clock not to run more than ``MARGIN_NS`` behind this machine's, and the clock not to be set
back by more than that between runs; either of the last two only makes a file written during the margin
look unchanged.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time

#: a hash is kept only for a file last written at least this long before it was hashed
MARGIN_NS = 3 * 10**9

#: what is kept of a file: its signature (``signature``), a space and the SHA-256 of its content (hex)
Entry = str


def signature(st: os.stat_result) -> str:
    """A file's size, modification and change times (ns), inode and device, as text."""
    return f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino} {st.st_dev}"


#: where ``st_ctime`` is the time of the last change (POSIX); on Windows it is the creation time, which an
#: edit does not move, so no hash is kept there and every file is read
CHANGE_TIME = os.name == "posix"


def settled(st: os.stat_result, now: int) -> bool:
    """Whether a file's hash may be kept: a regular file last written (or its times set) well before ``now``."""
    return CHANGE_TIME and stat.S_ISREG(st.st_mode) and max(st.st_mtime_ns, st.st_ctime_ns) < now - MARGIN_NS


class Stats:
    """The content hashes of a run's files, from what the last runs kept (``known``, path -> entry) while a
    file's signature is the same, else read. ``keep`` gives what is worth keeping for the next run."""

    def __init__(self, known: dict[str, Entry] | None = None) -> None:
        self.known = known if known is not None else {}
        self.used: set[str] = set()  # the kept entries this run found good
        self.added: dict[str, Entry] = {}  # path -> entry taken by this run, to keep

    def sha(self, path: str, st: os.stat_result | None = None) -> str | None:
        """The SHA-256 of a file's content (links followed), or None when it cannot be read; ``st``: what
        ``os.stat`` says of it now, when the caller knows."""
        try:
            st = st or os.stat(path)
        except OSError:
            return None
        kept = self.known.get(path)
        if kept is not None and kept[:-65] == signature(st) and stat.S_ISREG(st.st_mode):
            self.used.add(path)
            return kept[-64:]
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())  # the signature of what is read, taken before reading it
                now = time.time_ns()
                digest = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            return None
        if settled(st, now):
            self.added[path] = f"{signature(st)} {digest}"
        return digest

    def kept(self, path: str) -> str | None:
        """The signature this run found a file's kept hash good for, or took with its new hash; None when it
        keeps none for it (not hashed through ``sha`` in this run, unreadable, or written too recently)."""
        if path in self.added:
            return self.added[path][:-65]
        if path in self.used:
            return self.known[path][:-65]
        return None

    def keep(self, swept: str | None) -> dict[str, Entry] | None:
        """What to keep for the next run, or None when that is what is kept already: every kept entry and
        those this run took; after a run that hashed every input of a cards folder (``swept``, its path),
        less the kept entries below it that no input named (files removed or renamed)."""
        old = self.known
        if swept is not None:
            below = swept.rstrip(os.sep) + os.sep
            old = {p: e for p, e in old.items() if p in self.used or not p.startswith(below)}
        if not self.added and len(old) == len(self.known):
            return None
        return {**old, **self.added}
