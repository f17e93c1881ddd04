"""Spread a batch over worker processes: large organisations render thousands of cards.

Workers are forked, so they start with everything the parent has loaded (templates, the shared
sources, the vocabulary, the run's cache) and only the results travel back. Small batches, one job,
or a platform without ``fork`` run in the calling process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: below this many items a worker pool costs more than it saves
PARALLEL_FROM = 64

_work: tuple[Callable[[Any], Any], Sequence[Any]] | None = None  # set in each worker, by _start


def _start(fn: Callable[[Any], Any], items: Sequence[Any]) -> None:
    global _work
    _work = (fn, items)


def _run(i: int) -> Any:
    assert _work is not None
    fn, items = _work
    return fn(items[i])


def default_jobs() -> int:
    """Workers for a large batch: the CPUs this process may use (``os.sched_getaffinity``) that no other
    process is using now (the runnable processes in ``/proc/loadavg``, else the 1-minute load), at least
    one. On a busy machine a second worker only competes for the same cores, and pays for the fork."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, round(cpus - others_running())))


def others_running() -> float:
    """How many other processes want a CPU now: the fewest runnable in three looks a few milliseconds
    apart (so that a process that only passes by is not counted), this one left out."""
    import time

    try:
        seen = []
        for i in range(3):
            if i:
                time.sleep(0.003)
            with open("/proc/loadavg") as f:
                seen.append(int(f.read().split()[3].split("/")[0]) - 1)  # this process is one of them
        return max(0, min(seen))
    except (OSError, IndexError, ValueError):
        try:
            return os.getloadavg()[0]
        except OSError:
            return 0.0


def worth_forking(n: int, jobs: int | None = None, min_items: int = PARALLEL_FROM) -> bool:
    """Whether ``n`` items (cards, folders) are enough to spread over worker processes."""
    import multiprocessing as mp

    jobs = default_jobs() if jobs is None else jobs
    return jobs > 1 and n >= max(min_items, 2) and "fork" in mp.get_all_start_methods()


def map_items(fn: Callable[[T], R], items: Sequence[T], jobs: int | None = None,
              min_items: int = PARALLEL_FROM, batches: bool = False) -> list[R]:
    """``[fn(x) for x in items]``, in order, over ``jobs`` forked processes when there are at
    least ``min_items`` (items that are themselves batches may ask for fewer). The function and
    the items reach the workers by the fork itself (the pool's initializer), never pickled."""
    import multiprocessing as mp

    if not worth_forking(len(items), jobs, min_items):
        return [fn(x) for x in items]
    import gc

    jobs = default_jobs() if jobs is None else jobs
    # What the parent holds is frozen out of the collector's reach, so that the workers' collections do
    # not write to (and so copy) the pages they share with it; with ``batches`` (items that are batches
    # of cards) each worker does one item and exits, so that its memory is given back before the next.
    gc.freeze()
    try:
        with mp.get_context("fork").Pool(min(jobs, len(items)), initializer=_start, initargs=(fn, items),
                                         maxtasksperchild=1 if batches else None) as pool:
            return pool.map(_run, range(len(items)),
                            chunksize=1 if batches else max(1, len(items) // (jobs * 8)))
    finally:
        gc.unfreeze()
