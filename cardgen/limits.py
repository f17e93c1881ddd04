"""Every bound cardgen keeps on what it is given, in one place, and bounded time for work that cannot
bound itself (loading a model; templates from a card tree run in ``sandbox``'s worker, within the
time and memory given here).

Cards, READMEs, templates and answers from the Hub are other people's files: each is read within a size
(``files.read_text``), parsed within a shape (``loading.yamlpos``: nodes once aliases are expanded,
nesting depth, tags), and rendered within a time and an output size. A new input goes through the same
readers and takes its bound from here.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

#: the largest file cardgen reads: a card source, a shared file, a section file, a README, a template
MAX_FILE_BYTES = 2 * 1024 * 1024
#: the largest evaluation log `cardgen evals add` reads (an inspect-ai log carries its samples)
MAX_EVAL_LOG_BYTES = 256 * 1024 * 1024
#: a YAML document's nodes once aliases are expanded (an alias bomb stops here), and its nesting depth
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 64
#: an imported card's sources larger than this many times its README, and this many bytes more, are reported
#: (YAML escapes, block indentation and each free section's entry make sources somewhat larger than their text)
IMPORT_GROWTH = 4
IMPORT_GROWTH_SLACK = 16 * 1024
#: YAML documents larger than this have their nodes counted from the event stream before they are composed
YAML_COUNT_FROM = 256 * 1024
#: the most decimal digits of an integer read from YAML (Python's own default for writing one out): a
#: longer one, in any base (a 4,000-digit hex literal), is refused where it is read, not where it is printed
MAX_INT_DIGITS = 4300
#: seconds a chat template may run on the example conversation, and the most text it may give
TEMPLATE_SECONDS = 2.0
TEMPLATE_CHARS = 1_000_000
#: seconds the render of one card may take when templates of the cards tree (its own, its organisation's)
#: take part: a few milliseconds for a real card, so this is far from any card and near enough to wait for
CARD_SECONDS = 5.0
#: memory the worker process that runs templates from a card tree (``sandbox``) may take above what it
#: starts with (its caller's address space, shared by fork): a card or a chat example needs a few MiB,
#: the largest text a template may give (``TEMPLATE_CHARS``) 4 MiB, and this is well within a laptop's
SANDBOX_MEMORY = 512 * 1024 * 1024
#: the most a worker's answer may weigh (pickled) when it comes back to its caller
SANDBOX_ANSWER_BYTES = 64 * 1024 * 1024
#: seconds a caller waits past a request's own limit (which the worker enforces itself, between two steps
#: of Python) before it kills the worker: work inside one C call (a power folded at compile time, a huge
#: repetition) cannot be interrupted otherwise
SANDBOX_GRACE = 1.0
#: a model folder's safetensors header (JSON, after its 8-byte length): safetensors itself refuses one over 100 MB
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
#: a model folder's JSON files (config.json, tokenizer_config.json...): larger than card sources, since a
#: tokenizer_config.json lists its added tokens (tokenizer.json, the vocabulary, is never read)
MAX_MODEL_CONFIG_BYTES = 32 * 1024 * 1024
#: `cardgen preview`'s server: seconds a connection may stay idle (before its request, or within it), the
#: threads that answer requests, and the idle connections held (the oldest is closed past it)
PREVIEW_IDLE_SECONDS = 10.0
PREVIEW_WORKERS = 4
PREVIEW_WAITING = 64


@contextlib.contextmanager
def time_limit(seconds: float | None, error: Callable[[], BaseException]) -> Iterator[None]:
    """Raise ``error()`` in the block once it has run ``seconds``. Signals arrive in the main thread only:
    elsewhere (and without SIGALRM, or with no limit given) the block runs unbounded."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise error()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
