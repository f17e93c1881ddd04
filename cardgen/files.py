"""Files: how paths are shown, how text is read within bounds, and how READMEs are written atomically."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from cardgen.diagnostics import Diagnostic, Where, error
from cardgen.limits import MAX_FILE_BYTES


def display(path: Path | str) -> str:
    """A path as shown in diagnostics: relative to the working directory when below it."""
    p = os.path.abspath(path)
    cwd = os.getcwd()
    if cwd == os.sep:
        return p[1:] or "."
    if p.startswith(cwd) and p[len(cwd):len(cwd) + 1] == os.sep:
        return p[len(cwd) + 1:]
    return "." if p == cwd else p


#: while the dependency graph builds (``pipeline.incremental`` sets it): the SHA-256 of each file
#: ``read_text`` read, by absolute path, hashed from the very bytes read, so that a build is recorded
#: with what it was made from even when the file is edited while the run goes on
READS: dict[str, str] | None = None


def read_text(path: Path, file: str, max_bytes: int = MAX_FILE_BYTES) -> tuple[str | None, list[Diagnostic]]:
    """Read a UTF-8 text file within a size bound; a diagnostic instead on failure."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            return None, [error(Where(file), "CG008", "not a regular file")]
        if st.st_size > max_bytes:
            return None, [error(Where(file), "CG001", f"file is {st.st_size:,} bytes; the limit is {max_bytes:,}")]
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as e:
        return None, [error(Where(file), "CG008", f"cannot read: {os.strerror(e.errno or 0) or e}")]
    if len(raw) > max_bytes:
        return None, [error(Where(file), "CG001", f"file exceeds the limit of {max_bytes:,} bytes")]
    if READS is not None:
        import hashlib

        READS[os.path.abspath(path)] = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        return None, [error(Where(file, line, col), "CG002",
                            f"byte 0x{raw[e.start]:02x} is not valid UTF-8; save the file as UTF-8")]
    return text.removeprefix("\ufeff"), []


def loads_json(text: str | bytes) -> object:
    """Other people's JSON (a model folder's files, a safetensors header, an evaluation log), read within
    a shape: nesting too deep for the parser is a ValueError like any other malformed JSON, and the
    non-standard NaN and Infinity (which Python writes and JSON has not) read as null."""
    import json

    try:
        return json.loads(text, parse_constant=lambda name: None)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_json(path: Path, max_bytes: int = MAX_FILE_BYTES) -> object | None:
    """Other people's JSON file read within the size bound (``read_text``) and the shape bound
    (``loads_json``); None when it is missing, not a regular file, too large, not UTF-8 or not JSON."""
    text, _ = read_text(path, str(path), max_bytes)
    if text is None:
        return None
    try:
        return loads_json(text)
    except ValueError:
        return None


def write_problem(path: Path) -> str | None:
    """Why ``atomic_write`` could not put a file at ``path`` (a folder is there, or a file where one of
    the folders above it should be); None when nothing in the way is known. For a caller that checks
    before long work, not after it."""
    if path.is_dir():
        return "is a folder"
    blocking = next((p for p in path.parents if os.path.lexists(p) and not p.is_dir()), None)
    return f"{display(blocking)} is a file where a folder should be" if blocking is not None else None


def _umask() -> int:
    """The umask (read in the calling thread: reading it means setting it for a moment)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode git gives a new file: 0666 less the umask."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold ``path``, a file that is read, changed and written back with ``atomic_write``, against other
    processes that do the same through here, so that no one's change is lost: an advisory lock on the file
    as it is when taken (the write replaces it, so a lock taken on the file it replaced is taken again). A
    file that is not there is not held (its reader reports it); without ``fcntl`` (Windows), nothing is."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    while True:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)


def clean_leftovers(folder: Path, name: str = "README.md") -> None:
    """Remove the temporary files an interrupted earlier write left beside ``name`` (``.NAME.*.tmp``)."""
    head, tail = f".{name}.", ".tmp"
    try:
        with os.scandir(folder) as entries:
            left = [e.path for e in entries
                    if e.name.startswith(head) and e.name.endswith(tail) and len(e.name) >= len(head) + len(tail)]
    except OSError:
        return
    for p in left:
        with contextlib.suppress(OSError):
            os.unlink(p)


def atomic_write(path: Path, text: str, mode: int | None = None, sync: bool = True, tidy: bool = True) -> None:
    """Write to a temporary file beside ``path`` and rename it over: never a half-written file. The
    file gets the mode git gives (``file_mode()``). With ``sync`` (sources a person wrote or imported)
    the file is synced before the rename and its folder after it; without (derived files, written again
    from their sources) the rename alone keeps it whole. What an interrupted write left is removed first
    (``tidy``; a caller that just did so says not to)."""
    mode = file_mode() if mode is None else mode
    path.parent.mkdir(parents=True, exist_ok=True)
    if tidy:
        clean_leftovers(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if not sync:
        return
    with contextlib.suppress(OSError):
        dirfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)


def replace_folder(folder: Path, fill: Callable[[Path], None]) -> None:
    """Give ``folder`` new content as a whole: ``fill`` writes it into a new folder beside it, which then
    takes its place; the old folder (or a link in its place: removed, never followed) is removed after.
    Either the old content is there or the new, never a mix; what an interrupted earlier call left beside
    it is removed first."""
    import shutil

    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        for p in [*parent.glob(f".{folder.name}.*.new"), *parent.glob(f".{folder.name}.*.old")]:
            _remove(p)
    new = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".new", dir=parent))
    old = new.with_suffix(".old")
    had = False
    try:
        os.chmod(new, 0o777 & ~_umask())
        fill(new)
        had = os.path.lexists(folder)
        if had:
            os.rename(folder, old)
        try:
            os.rename(new, folder)
        except BaseException:
            if had:
                os.rename(old, folder)
            raise
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    if had:
        with contextlib.suppress(OSError):
            _remove(old)


def _remove(path: Path) -> None:
    """A file, a link or a folder tree removed; links are removed, never followed."""
    import shutil

    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)


def files_below(folder: Path) -> list[Path]:
    """Everything below ``folder`` that is not a folder (files, links, others), links not followed;
    ``folder`` itself when it is a link or not a folder; sorted."""
    if folder.is_symlink() or (os.path.lexists(folder) and not folder.is_dir()):
        return [folder]
    out: list[Path] = []
    for dirpath, dirs, names in os.walk(folder):
        out += [Path(dirpath) / n for n in names]
        out += [Path(dirpath) / d for d in dirs if os.path.islink(os.path.join(dirpath, d))]
    return sorted(out)


def ours_alone(path: str) -> bool:
    """A file or folder this user owns and no one else may write to."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, links resolved, is ``root`` or below it (``root``'s own links resolved too); a
    link that loops leads nowhere inside."""
    try:
        real, top = path.resolve(), root.resolve()
    except (OSError, RuntimeError):  # a loop of links (RuntimeError before Python 3.13)
        return False
    return real == top or top in real.parents


def link_tree(folder: Path) -> Path:
    """The tree the links of a folder someone gave may lead into: the folder itself; for a snapshot of
    the Hub cache (`…/models--owner--name/snapshots/<revision>`, whose files are links to `../../blobs/`),
    the cached repository."""
    real = folder.resolve()
    if real.parent.name == "snapshots" and real.parent.parent.name.startswith(("models--", "datasets--")):
        return real.parent.parent
    return real


def escaping_link(path: Path, root: Path) -> Path | None:
    """The first link on the way from ``root`` down to ``path`` that leads outside ``root``, if any."""
    try:
        rel = path.absolute().relative_to(root.absolute())
    except ValueError:
        return path if not inside(path, root) else None
    cur = root.absolute()
    for part in rel.parts:
        cur = cur / part
        if cur.is_symlink() and not inside(cur, root):
            return cur
    return None


def committed(path: Path) -> str | None:
    """A committed README's text for comparison; None when there is none. Bytes that are not UTF-8
    are replaced (the text then differs from any render, which is what it should report). A README over
    cardgen's file bound is read up to it and marked as cut: it differs from any render, as it should,
    and is never held whole."""
    try:
        if not path.is_file():
            return None
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    text = raw[:MAX_FILE_BYTES].decode("utf-8", errors="replace")
    return text + (f"\n[cardgen: not read past {MAX_FILE_BYTES:,} bytes]\n" if len(raw) > MAX_FILE_BYTES else "")


def readme_path(out: Path, repo_id: str) -> Path:
    return out / repo_id / "README.md"


def changed_since(ref: str, where: Path) -> frozenset[str]:
    """The files (absolute paths) that differ from git revision ``ref`` in the work tree around ``where``:
    committed since, staged, modified, deleted or new and not ignored. ValueError, with git's reason,
    when there is no such revision or no git repository."""
    import subprocess

    def git(*args: str, cwd: Path) -> str:
        try:
            p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ValueError(f"git did not run: {e}") from None
        if p.returncode != 0:
            raise ValueError((p.stderr.strip().splitlines() or ["git failed"])[-1])
        return p.stdout

    start = where if where.is_dir() else where.parent
    top = Path(git("rev-parse", "--show-toplevel", cwd=start).strip())
    git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=top)
    names = git("diff", "--name-only", "-z", ref, "--", cwd=top).split("\0")
    names += git("ls-files", "--others", "--exclude-standard", "-z", cwd=top).split("\0")
    return frozenset(str((top / n).resolve()) for n in names if n)
