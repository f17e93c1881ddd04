"""A quiet smoke run: what transformers, sentence-transformers and huggingface_hub log while a model is
judged goes into that model's result (``captured``), not onto the terminal; their progress bars (the
"Loading weights" bar of every load) are off unless stderr is a terminal."""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator

#: the loggers whose records a result keeps
LIBRARIES = ("transformers", "sentence_transformers", "huggingface_hub", "torch")


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.append(f"{record.name}: {record.levelname.lower()}: {record.getMessage()}".strip())


@contextlib.contextmanager
def captured() -> Iterator[list[str]]:
    """The libraries' log records (and Python warnings) while the block runs, as lines; their handlers and
    levels as they were after. Progress bars are off while it runs unless stderr is a terminal."""
    keep = _Keep()
    saved = []
    for name in LIBRARIES:
        log = logging.getLogger(name)
        saved.append((log, log.level, log.propagate, list(log.handlers)))
        log.handlers = [keep]
        log.propagate = False
        log.setLevel(logging.WARNING)
    bars = _bars_off() if not getattr(sys.stderr, "isatty", lambda: False)() else contextlib.nullcontext()
    try:
        with warnings.catch_warnings(record=True) as seen, bars:
            warnings.simplefilter("always")
            yield keep.lines
        keep.lines += [f"warning: {w.category.__name__}: {w.message}" for w in seen]
    finally:
        for log, level, propagate, handlers in saved:
            log.handlers, log.propagate = handlers, propagate
            log.setLevel(level)


@contextlib.contextmanager
def _bars_off() -> Iterator[None]:
    """transformers' and huggingface_hub's progress bars off, and back on after if they were on."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as tlog

    hub_was_off, tf_was_on = are_progress_bars_disabled(), tlog.is_progress_bar_enabled()
    disable_progress_bars()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if not hub_was_off:
            enable_progress_bars()
        if tf_was_on:
            tlog.enable_progress_bar()
