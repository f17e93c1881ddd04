"""Spread a batch over worker processes: large organisations render thousands of cards.

Workers are forked, so they start with everything the parent has loaded (templates, the shared
sources, the vocabulary) and only the results travel back. Small batches, one job, or a platform
without ``fork`` run in the calling process.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: below this many items a worker pool costs more than it saves
PARALLEL_FROM = 64

_TASK: tuple | None = None  # what forked workers run: (function, items)


def _run(i: int):
    fn, items = _TASK
    return fn(items[i])


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worth_forking(n: int, jobs: int | None = None, min_items: int = PARALLEL_FROM) -> bool:
    """Whether ``n`` items (cards, folders) are enough to spread over worker processes."""
    import multiprocessing as mp

    jobs = default_jobs() if jobs is None else jobs
    return jobs > 1 and n >= max(min_items, 2) and "fork" in mp.get_all_start_methods()


def map_items(fn: Callable[[T], R], items: Sequence[T], jobs: int | None = None,
              min_items: int = PARALLEL_FROM) -> list[R]:
    """``[fn(x) for x in items]``, in order, over ``jobs`` forked processes when there are at
    least ``min_items`` (items that are themselves batches may ask for fewer)."""
    global _TASK
    import multiprocessing as mp

    if not worth_forking(len(items), jobs, min_items):
        return [fn(x) for x in items]
    jobs = default_jobs() if jobs is None else jobs
    _TASK = (fn, items)
    try:
        with mp.get_context("fork").Pool(min(jobs, len(items))) as pool:
            return pool.map(_run, range(len(items)), chunksize=max(1, len(items) // (jobs * 8)))
    finally:
        _TASK = None
