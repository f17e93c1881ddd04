from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cardgen.cli import main

REPO = Path(__file__).resolve().parent.parent

# compiled templates go to a cache of the test run's own, not the user's ~/.cache/cardgen
os.environ["CARDGEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="cardgen-test-cache-")
CARDS = REPO / "cards"
#: how many READMEs the bundled cards render (a suite source renders one per member)
BUNDLED = len(list((REPO / "rendered").rglob("README.md")))
SEEDS = REPO / "tests" / "seeds"  # copies of ../shared/seeds (see its ORIGIN.md)
SEED = {
    "000": SEEDS / "000_60bd70116340600e.txt",
    "001": SEEDS / "001_adce8e4c7c8a659e.txt",
    "002": SEEDS / "002_a62d7f1d69580827.txt",
    "003": SEEDS / "003_d399dd7bfb3da2fe.txt",
}


def seed_text(key: str) -> str:
    return SEED[key].read_text("utf-8")


@pytest.fixture
def cards(tmp_path: Path) -> Path:
    """A private copy of the bundled cards to mutate."""
    dst = tmp_path / "cards"
    shutil.copytree(CARDS, dst)
    return dst


class Run:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the cardgen command in-process; returns exit code and output."""

    def run(*args: str, cwd: Path | None = None) -> Run:
        if cwd:
            monkeypatch.chdir(cwd)
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


def run_process(*args: str, cwd: Path | None = None, timeout: float = 60, env=None) -> Run:
    """Run `python -m cardgen` in a child process (for time bounds and tracebacks)."""
    p = subprocess.run([sys.executable, "-m", "cardgen", *map(str, args)], cwd=cwd, capture_output=True,
                       text=True, timeout=timeout, env=env)
    return Run(p.returncode, p.stdout, p.stderr)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), "utf-8")


def line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")
