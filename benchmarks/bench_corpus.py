"""Validate the 63 real Hub cards of tests/corpus in one call, and import them into card sources (each
recognised part rendered back and compared, facts shared across cards), against two yardsticks in the
same run: the cost of starting Python and importing cardgen's dependencies, and huggingface_hub reading
the same READMEs (`ModelCard.load`, which parses the front matter and checks nothing offline).

    python benchmarks/bench_corpus.py [--rounds 7]

Each measurement is a fresh process; rounds are interleaved; medians, min and max are printed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"

IMPORTS = "import yaml, pydantic, jinja2, markdown_it, huggingface_hub.utils, huggingface_hub.repocard"
HUB_LOAD = (
    "import sys, pathlib\nfrom huggingface_hub import ModelCard\n"
    "for p in sorted(pathlib.Path(sys.argv[1]).glob('*.md')):\n"
    "    ModelCard.load(p, ignore_metadata_errors=True)\n"
)


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    took = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr[-2000:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    runs: dict[str, list[float]] = {"cardgen validate (63 cards)": [], "cardgen import (63 cards)": [],
                                    "python + imports": [], "huggingface_hub ModelCard.load (63 cards)": []}
    tmp = Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    for f in CORPUS.glob("*.md"):
        if f.name != "ORIGIN.md":
            shutil.copy(f, tmp / f.name)
    for _ in range(a.rounds):
        runs["cardgen validate (63 cards)"].append(timed([sys.executable, "-m", "cardgen", "validate", str(CORPUS)]))
        shutil.rmtree(tmp / "cards", ignore_errors=True)
        runs["cardgen import (63 cards)"].append(timed([sys.executable, "-m", "cardgen", "import", str(tmp), "--out",
                                                        str(tmp / "cards")]))
        runs["python + imports"].append(timed([sys.executable, "-c", IMPORTS]))
        runs["huggingface_hub ModelCard.load (63 cards)"].append(timed([sys.executable, "-c", HUB_LOAD, str(CORPUS)]))
    shutil.rmtree(tmp)
    base = statistics.median(runs["python + imports"])
    print(f"{a.rounds} interleaved rounds, each a fresh process; seconds min/median/max, and median / imports")
    for name, t in runs.items():
        print(f"{name:42} {min(t):.3f}/{statistics.median(t):.3f}/{max(t):.3f}  {statistics.median(t) / base:.2f}x")


if __name__ == "__main__":
    main()
