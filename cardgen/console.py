"""Console habits: colour on a terminal (none when piped, with `NO_COLOR`, or on a dumb terminal;
`FORCE_COLOR` forces it), `--quiet` and `--verbose`, and a progress bar on stderr for long runs.

Colour and the progress bar come from `rich`, imported only when a terminal will show them. What is
written is the same text either way: colour only styles it.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

#: -1 quiet (errors and the summary), 0 normal, 1 verbose (each diagnostic's rule too)
VERBOSITY = 0


def colour(stream: TextIO) -> bool:
    """Whether to colour what goes to ``stream`` (https://no-color.org, FORCE_COLOR, TERM=dumb)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _console(stream: TextIO) -> Any:
    from rich.console import Console

    return Console(file=stream, force_terminal=True, no_color=False, highlight=False, soft_wrap=True,
                   emoji=False, markup=False)


STYLES = {"error": "bold red", "warning": "yellow", "code": "bold", "where": "dim", "ok": "green",
          "failed": "bold red", "skipped": "yellow"}


def write_diagnostic(stream: TextIO, where: str, code: str, severity: str, message: str, rule: str | None) -> None:
    """One `file:line:col: CODE message` line, styled on a terminal; its rule below it with --verbose."""
    sev = "" if severity == "error" else "warning: "
    if colour(stream):
        from rich.text import Text

        t = Text()
        t.append(f"{where}: ", STYLES["where"])
        t.append(code, STYLES["code"] + (" red" if severity == "error" else " yellow"))
        t.append(" ")
        if sev:
            t.append(sev, STYLES["warning"])
        t.append(message)
        _console(stream).print(t)
    else:
        stream.write(f"{where}: {code} {sev}{message}\n")
    if VERBOSITY > 0 and rule:
        stream.write(f"    rule: {rule}\n")


def write_summary(stream: TextIO, text: str, errors: int, warnings: int) -> None:
    if colour(stream):
        from rich.text import Text

        style = STYLES["error"] if errors else STYLES["warning"] if warnings else STYLES["ok"]
        _console(stream).print(Text(text, style))
    else:
        stream.write(text + "\n")


class Progress:
    """Progress of a run over many items, on stderr: a bar on a terminal once the run has lasted
    ``delay`` seconds, each item's line otherwise (none with --quiet)."""

    def __init__(self, stream: TextIO | None = None, delay: float = 2.0, clock: Any = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.delay, self.clock = delay, clock
        self.start = clock()
        self.bar: Any = None
        self.task: Any = None
        self.tty = colour(self.stream)

    def __call__(self, line: str, done: int | None = None, total: int | None = None) -> None:
        if VERBOSITY < 0:
            return
        if not self.tty or done is None or total is None:
            self.stream.write(line + "\n")
            self.stream.flush()
            return
        if self.bar is None:
            if self.clock() - self.start < self.delay:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=_console(self.stream), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("", total=total)
        self.bar.update(self.task, completed=done, total=total, description=line[:60])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
