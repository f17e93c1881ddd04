"""Console habits: colour only on a terminal (never piped, never with NO_COLOR), --quiet, --verbose, and a
progress bar that appears on a terminal only once a run has lasted a while."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys

from conftest import REPO, edit, warned

ESC = "\x1b["


def on_a_terminal(*args: str, env: dict | None = None) -> str:
    """Run cardgen with stdout and stderr on a pseudo-terminal; what the terminal received."""
    leader, follower = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    environ.update({"TERM": "xterm-256color", **(env or {})})
    p = subprocess.Popen([sys.executable, "-m", "cardgen", *args], cwd=REPO, stdout=follower, stderr=follower,
                         env=environ)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    p.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_colour_on_a_terminal_none_with_no_color_or_a_pipe(cards):
    edit(cards / "_shared/mitigations.yaml", "M10: Conduct", "M10: Requires")  # a warning to colour
    coloured = on_a_terminal("validate", str(cards))
    assert ESC in coloured and "CG609" in coloured
    plain = on_a_terminal("validate", str(cards), env={"NO_COLOR": "1"})
    assert ESC not in plain and "CG609 warning: mitigation M10" in plain
    piped = subprocess.run([sys.executable, "-m", "cardgen", "validate", str(cards)], cwd=REPO, capture_output=True,
                           text=True, env={**os.environ, "TERM": "xterm-256color"})
    assert ESC not in piped.stdout + piped.stderr and "CG609 warning" in piped.stdout


def test_quiet_keeps_errors_and_the_summary(cli, cards):
    r = cli("validate", warned(cards, wording=True), "--quiet")
    assert r.code == 0 and r.out == "" and "0 errors, 3 warnings" in r.err  # the warnings are counted, not listed
    (cards / "stabilityai/StableBeluga-7B/card.yaml").write_text("repo_id: acme/x\nlicense: not-a-licence\n")
    r = cli("validate", cards, "-q")
    assert r.code == 1 and "CG201" in r.out and "CG609" not in r.out
    r = cli("render", cards / "stabilityai/StableBeluga2", "-q", "--out", cards.parent / "out")
    assert "written" not in r.out


def test_verbose_names_the_rule_behind_each_diagnostic(cli, cards):
    (cards / "stabilityai/StableBeluga-7B/card.yaml").write_text("repo_id: acme/x\nlicense: not-a-licence\n")
    r = cli("validate", cards, "--verbose")
    lines = r.out.splitlines()
    at = next(i for i, ln in enumerate(lines) if "CG201" in ln)
    assert lines[at + 1].startswith("    rule: `license` is an id of the Hub's licence list")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_appears_only_after_the_delay(monkeypatch):
    from cardgen import console

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    now = [0.0]
    out = Terminal()
    p = console.Progress(out, delay=2.0, clock=lambda: now[0])
    p("[1/10] acme/a: ok", done=1, total=10)
    assert out.getvalue() == ""  # a short run shows nothing
    now[0] = 3.0
    p("[2/10] acme/b: ok", done=2, total=10)
    p.close()
    assert "2/10" in out.getvalue() and ESC in out.getvalue()
    piped = io.StringIO()
    q = console.Progress(piped, delay=0, clock=lambda: now[0])
    q("[1/2] acme/a: ok", done=1, total=2)
    assert piped.getvalue() == "[1/2] acme/a: ok\n"  # not a terminal: plain lines, as a log wants
