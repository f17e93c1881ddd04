from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Every cache a test could write goes to a folder of the test run's own, set before anything imports
# huggingface_hub, transformers or sentence-transformers (they read these when imported): nothing a test
# does lands in the user's Hugging Face cache (where a README-only snapshot would later pass for a model),
# their torch or sentence-transformers caches, or cardgen's cache; and no test uses the user's token.
USER_CACHES = [Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface"),
               Path(os.environ.get("CARDGEN_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME")
                                                               or Path.home() / ".cache") / "cardgen")]
_RUN = Path(tempfile.mkdtemp(prefix="cardgen-test-"))
for _var, _sub in {"HF_HOME": "hf", "HF_HUB_CACHE": "hf/hub", "HF_ASSETS_CACHE": "hf/assets",
                   "HF_XET_CACHE": "hf/xet", "SENTENCE_TRANSFORMERS_HOME": "sentence-transformers",
                   "TORCH_HOME": "torch", "XDG_CACHE_HOME": "xdg", "CARDGEN_CACHE_DIR": "cardgen"}.items():
    os.environ[_var] = str(_RUN / _sub)
for _var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "TRANSFORMERS_CACHE", "HF_DATASETS_CACHE"):
    os.environ.pop(_var, None)

from cardgen.cli import main  # noqa: E402 - after the caches are set

REPO = Path(__file__).resolve().parent.parent
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


def warned(cards: Path, wording: bool = False) -> Path:
    """A copy of the bundled cards (which are clean under --strict) with warnings again: a mitigation in the
    shared catalogue that no README shows, unused (CG605) and a near-duplicate of another (CG606); with
    ``wording``, also a mitigation that a card uses worded as no instruction (CG609; that README changes)."""
    catalogue = cards / "_shared" / "mitigations.yaml"
    text = catalogue.read_text("utf-8") + "  M22: Exercise reasonable caution when using models in production\n"
    if wording:
        text = text.replace("M10: Conduct detailed studies", "M10: Requires detailed studies")
    catalogue.write_text(text, "utf-8")
    return cards


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


def with_(base: dict, **changes) -> dict:
    """A copy of the card fields ``base`` with ``prompt__bos="none"``-style changes (None removes the field)."""
    import json

    out = json.loads(json.dumps(base))
    for path, value in changes.items():
        *parents, last = path.split("__")
        cur = out
        for p in parents:
            cur = cur.setdefault(p, {})
        if value is None:
            cur.pop(last, None)
        else:
            cur[last] = value
    return out


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), "utf-8")


def line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


def _files(folder: Path) -> set[str]:
    return {os.path.join(root, f) for root, _, files in os.walk(folder) for f in files} if folder.is_dir() else set()


@pytest.fixture(scope="session", autouse=True)
def users_caches_untouched():
    """No file appears in the user's own caches during the run. (Files already there may change under
    another program the user runs meanwhile; a file a test would write is a new one.)"""
    before = {folder: _files(folder) for folder in USER_CACHES}
    yield
    new = {str(folder): sorted(_files(folder) - before[folder])[:5] for folder in USER_CACHES}
    assert not any(new.values()), f"files appeared in the user's caches during the tests: {new}"
