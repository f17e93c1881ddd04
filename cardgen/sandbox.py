"""What a card tree wrote and cardgen runs (a chat template, a card's or an organisation's templates), run
within bounds that hold wherever the caller is: in any thread, at compile time, inside one C call.

``call(fn, *args, seconds=...)`` runs ``fn(*args)`` in a worker process and gives back what it returns,
raises what it raised, or raises a ``Bound`` that says which bound stopped it. The worker is forked from
the caller when first needed, so it starts with every module the caller has imported (none is imported
twice), and it serves one request at a time over a pipe (callers in other threads wait their turn);
``fn`` and its arguments travel pickled, ``fn`` by its name.

* Time: the worker stops a request at ``seconds`` itself (SIGALRM between two steps of Python: it is
  single-threaded), so that a long template costs no new process; its caller waits ``seconds +
  limits.SANDBOX_GRACE`` and then kills it, which is what stops work inside one C call (a power of a
  power that Jinja folds while it compiles). RLIMIT_CPU backs this up should the caller die meanwhile.
* Memory: the worker's address space may grow ``limits.SANDBOX_MEMORY`` beyond what it starts with
  (RLIMIT_AS): past that an allocation fails, in the worker alone; its answers are bounded too
  (``limits.SANDBOX_ANSWER_BYTES``), so the caller's memory is not the template's to spend.
* A worker that dies (its C stack overflowed, a signal) is an answer too; the next request forks a
  fresh worker.

The worker holds none of its caller's descriptors but its two pipes (it keeps no served socket open),
writes no core file, ignores Ctrl-C (its caller answers that) and leaves when its caller does. A process
forked from the caller (a worker pool) gets a worker of its own. In the worker, ``call`` runs ``fn`` in
place, within the request's bounds; where there is no ``fork``, in the caller, with ``limits.time_limit``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cardgen import limits

R = TypeVar("R")
_HEADER = struct.Struct("<Q")  # each message: its length, then the pickle


class Bound(Exception):
    """A request stopped by a bound; its text says which, to follow a subject ("the chat template ...")."""


class OutOfTime(Bound):
    pass


class OutOfMemory(Bound):
    pass


class Crashed(Bound):
    pass


def out_of_time(seconds: float) -> OutOfTime:
    return OutOfTime(f"ran longer than {seconds:g} s")


def out_of_memory() -> OutOfMemory:
    return OutOfMemory(f"needed more than {limits.SANDBOX_MEMORY // 2**20} MiB of memory")


class TimeUp(BaseException):
    """Raised in the worker at a request's limit: not an Exception, so that the code it stops cannot swallow
    it. Work that can say where it was stopped may catch it and raise ``OutOfTime`` with that added."""


def reason(e: BaseException) -> str:
    """An exception's text for a diagnostic, saying so where Python refused to go deeper into what a card
    wrote (its recursion limit, or too many nested blocks in the code Jinja makes of a template)."""
    if isinstance(e, RecursionError) or (isinstance(e, SyntaxError) and "nested" in str(e.msg)):
        return f"it nests too deeply ({type(e).__name__}: {e.msg if isinstance(e, SyntaxError) else e})"
    return str(e)


@dataclass
class _Worker:
    pid: int
    requests: int  # the pipe's end we write to
    answers: int  # the pipe's end we read from
    modules: frozenset[str]  # the modules its caller had imported when it was forked


_lock = threading.Lock()
_worker: _Worker | None = None
_inside = False  # this process is a worker


def call(fn: Callable[..., R], *args: Any, seconds: float) -> R:
    """``fn(*args)`` in the worker, within ``seconds`` and ``limits.SANDBOX_MEMORY``."""
    if _inside:
        return fn(*args)
    if not hasattr(os, "fork"):
        with limits.time_limit(seconds, TimeUp):
            try:
                return fn(*args)
            except TimeUp:
                raise out_of_time(seconds) from None
    request = pickle.dumps((fn, args, seconds), pickle.HIGHEST_PROTOCOL)
    with _lock:
        answer = _ask(request, seconds, fn.__module__)
    kind = answer[0]
    if kind == "ok":
        return answer[1]
    if kind == "raise":
        raise answer[1]
    if kind == "time":
        raise out_of_time(seconds)
    if kind == "memory":
        raise out_of_memory()
    if kind == "large":
        raise OutOfMemory(f"gave an answer of {answer[1] // 2**20} MiB; the limit is "
                          f"{limits.SANDBOX_ANSWER_BYTES // 2**20} MiB")
    raise Crashed(f"crashed its worker process ({answer[1]})")


def _ask(request: bytes, seconds: float, module: str) -> tuple[Any, ...]:
    """Send a request and wait for its answer (the lock held); a worker past its time is killed. A worker
    forked before its caller imported the module of the function asked for (one that a chat template
    started during validation, asked to render a card) is forked again, so as not to import that module
    and all it imports a second time."""
    if _worker is not None and module not in _worker.modules:
        _end()
    for attempt in (1, 2):
        try:
            w = _worker or _start()
        except OSError as e:  # no process to be had (EAGAIN, ENOMEM): the work is not done, here or there
            return ("died", f"none could be started: {e.strerror or e}")
        try:
            _write(w.requests, request)
            break
        except OSError:  # the worker had died while idle (killed from outside): once more, with a fresh one
            if attempt == 2:
                return ("died", _end())
            _end()
    deadline = time.monotonic() + seconds + limits.SANDBOX_GRACE
    try:
        (size,) = _HEADER.unpack(_read(w.answers, _HEADER.size, deadline))
        if size > limits.SANDBOX_ANSWER_BYTES + 4096:  # the worker checks this; a worker that does not is broken
            return ("died", f"an answer of {size:,} bytes, {_end()}")
        answer = pickle.loads(_read(w.answers, size, deadline))
    except TimeoutError:
        _end()
        return ("time",)
    except EOFError:
        return ("died", _end())
    except BaseException:  # interrupted while the worker works (Ctrl-C, the caller's own alarm): it goes
        _end()
        raise
    if answer[0] == "memory":  # its allocator's state after a failed allocation is not worth keeping
        _end()
    assert isinstance(answer, tuple)
    return answer


def _start() -> _Worker:
    global _worker
    import warnings

    to_worker, requests = os.pipe()
    answers, from_worker = os.pipe()
    try:
        with warnings.catch_warnings():  # Python 3.12 warns of a fork beside other threads: the worker takes
            warnings.simplefilter("ignore", DeprecationWarning)  # no lock of theirs (a stuck one is killed)
            pid = os.fork()
    except OSError:
        for fd in (to_worker, requests, answers, from_worker):
            os.close(fd)
        raise
    if pid == 0:
        status = 70
        try:
            os.close(requests)
            os.close(answers)
            _serve(to_worker, from_worker)
            status = 0
        finally:
            os._exit(status)
    os.close(to_worker)
    os.close(from_worker)
    _worker = _Worker(pid, requests, answers, frozenset(sys.modules))
    return _worker


def _end() -> str:
    """Stop the worker (killed if it still runs) and say how it ended."""
    global _worker
    w, _worker = _worker, None
    if w is None:
        return "no worker"
    for fd in (w.requests, w.answers):
        with contextlib.suppress(OSError):
            os.close(fd)
    try:
        os.kill(w.pid, signal.SIGKILL)
        _, status = os.waitpid(w.pid, 0)
    except (ProcessLookupError, ChildProcessError):
        return "ended"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            return signal.Signals(sig).name
        except ValueError:
            return f"signal {sig}"
    return f"exit status {os.WEXITSTATUS(status)}" if os.WIFEXITED(status) else "ended"


def _forget() -> None:
    """In a forked child: the worker is its parent's; it makes its own when it needs one."""
    global _lock, _worker
    _lock = threading.Lock()
    if _worker is not None:
        for fd in (_worker.requests, _worker.answers):
            with contextlib.suppress(OSError):
                os.close(fd)
    _worker = None


def _stop_at_exit() -> None:
    if _worker is not None and not _inside:
        _end()


if hasattr(os, "register_at_fork"):
    import atexit

    os.register_at_fork(after_in_child=_forget)
    atexit.register(_stop_at_exit)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read(fd: int, size: int, deadline: float | None) -> bytes:
    """``size`` bytes from ``fd``; TimeoutError past ``deadline``, EOFError when the writer has gone."""
    import select

    poll = select.poll()
    poll.register(fd, select.POLLIN)
    chunks, got = [], 0
    while got < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not poll.poll(left * 1000):
                raise TimeoutError
        chunk = os.read(fd, min(size - got, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# -- in the worker ---------------------------------------------------------------------------------


def _serve(requests: int, answers: int) -> None:
    global _inside
    import gc

    _inside = True
    _detach({requests, answers, 2})
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, _time_up)
    gc.freeze()  # what the caller holds stays out of the collector's reach: its pages stay shared
    _limit_memory()
    while True:
        try:
            (size,) = _HEADER.unpack(_read(requests, _HEADER.size, None))
            request = _read(requests, size, None)
        except EOFError:  # the caller has gone
            return
        _write(answers, _answer(request))


def _answer(request: bytes) -> bytes:
    answer: tuple[Any, ...]
    try:
        fn, args, seconds = pickle.loads(request)
        _limit_cpu(seconds)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            answer = ("ok", fn(*args))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except TimeUp:
        answer = ("time",)
    except MemoryError:
        answer = ("memory",)
    except Exception as e:  # noqa: BLE001 - the caller raises it, with where it was raised here as a note
        import traceback

        setattr(e, "__notes__", [*getattr(e, "__notes__", ()), "raised in sandbox's worker process:\n"  # noqa: B010
                                 + "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip()])
        answer = ("raise", e)
    except BaseException as e:  # noqa: BLE001 - SystemExit and the like end the worker's request, not its caller
        answer = ("raise", RuntimeError(f"{type(e).__name__}: {e}"))
    try:
        data = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
        if answer[0] == "raise":
            pickle.loads(data)  # an exception that does not come back whole comes back as its text
    except MemoryError:
        data = pickle.dumps(("memory",))
    except Exception:  # noqa: BLE001
        what: object = answer[-1]
        text = f"{type(what).__name__}: {what}" if answer[0] == "raise" else f"an answer of type {type(what).__name__}"
        data = pickle.dumps(("raise", RuntimeError(text)))
    if len(data) > limits.SANDBOX_ANSWER_BYTES:
        data = pickle.dumps(("large", len(data)))
    return data


def _time_up(signum: int, frame: Any) -> None:
    raise TimeUp


def _detach(keep: set[int]) -> None:
    """Every descriptor but ``keep`` becomes /dev/null: the worker holds no socket, pipe or file of its
    caller's open (a Python object that closes one later closes its own copy of /dev/null)."""
    try:
        fds = [int(x) for x in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(256))
    null = os.open(os.devnull, os.O_RDWR)
    for fd in fds:
        if fd not in keep and fd != null:
            with contextlib.suppress(OSError):
                os.dup2(null, fd, inheritable=fd < 3)
    os.close(null)


def _limit_memory() -> None:
    try:
        import resource

        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (ImportError, OSError, StopIteration, ValueError, IndexError):
        return
    want = size + limits.SANDBOX_MEMORY
    for which, value in ((resource.RLIMIT_AS, want), (resource.RLIMIT_CORE, 0)):
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value))


def _limit_cpu(seconds: float) -> None:
    """A request may use its seconds of CPU and a little more; past that the kernel ends the worker
    (SIGXCPU), should its caller not be there to."""
    try:
        import resource

        used = sum(os.times()[:2])
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = int(used + seconds + limits.SANDBOX_GRACE) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
    except (ImportError, ValueError, OSError):
        pass
