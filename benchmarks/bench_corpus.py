"""Validate the 63 real Hub cards of tests/corpus in one call, and import them into card sources (each
recognised part rendered back and compared, facts shared across cards), each paired in every round with
its yardstick run just before it: Python starting and importing exactly the libraries that command
imports (found by running it once in this process and listing the modules it loaded that are neither the
standard library's nor cardgen's), so the ratio is what cardgen adds to the import of what it needs.
huggingface_hub reading the same READMEs (`ModelCard.load`, which parses the front matter and checks
nothing offline) is paired the same way, for comparison.

    nice python benchmarks/bench_corpus.py [--rounds 7]

Each measurement is a fresh process; each round's ratios are printed with the machine's load, then
min / median / max of the per-round ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"

HUB_LOAD = (
    "import sys, pathlib\nfrom huggingface_hub import ModelCard\n"
    "for p in sorted(pathlib.Path(sys.argv[1]).glob('*.md')):\n"
    "    ModelCard.load(p, ignore_metadata_errors=True)\n"
)
HUB_IMPORT = "from huggingface_hub import ModelCard"

#: runs a cardgen command in this process and prints the third-party modules it imported
IMPORTED = (
    "import contextlib, io, sys\nfrom cardgen.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
    "    try:\n        main(sys.argv[1:])\n    except SystemExit:\n        pass\n"
    "top = set(sys.stdlib_module_names) | {'cardgen', '__main__', '__mp_main__'}\n"
    "mods = [m for m in sys.modules if m.split('.')[0] not in top and not any(p.startswith('_') for p in m.split('.'))]\n"
    "print(' '.join(sorted(m for m in mods if getattr(sys.modules[m], '__spec__', None) is not None)))\n"
)


#: the programs' environment: cardgen's caches in the benchmark's own folder (set in ``main``)
ENV = dict(os.environ)


def timed(cmd: list[str], ok: tuple[int, ...] = (0, 1)) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=ENV)
    took = time.perf_counter() - t0
    if p.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr[-2000:]}")
    return took


def imports_of(args: list[str]) -> str:
    """The `import` statement of the modules a cardgen command loads beyond the standard library."""
    p = subprocess.run([sys.executable, "-c", IMPORTED, *args], capture_output=True, text=True, cwd=REPO, check=True,
                       env=ENV)
    mods = p.stdout.split()
    return "import " + ", ".join(mods) if mods else "pass"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    ENV["CARDGEN_CACHE_DIR"] = str(tmp / "cache")  # never the user's own cache
    try:
        for f in CORPUS.glob("*.md"):
            if f.name != "ORIGIN.md":
                shutil.copy(f, tmp / f.name)
        validate = [sys.executable, "-m", "cardgen", "validate", str(CORPUS)]
        importing = [sys.executable, "-m", "cardgen", "import", str(tmp), "--out", str(tmp / "cards")]
        yard_validate = imports_of(["validate", str(CORPUS)])
        yard_import = imports_of(["import", str(tmp), "--out", str(tmp / "probe")])
        shutil.rmtree(tmp / "probe", ignore_errors=True)
        pairs = {
            "cardgen validate (63 cards)": (validate, [sys.executable, "-c", yard_validate]),
            "cardgen import (63 cards)": (importing, [sys.executable, "-c", yard_import]),
            "huggingface_hub ModelCard.load (63 cards)": ([sys.executable, "-c", HUB_LOAD, str(CORPUS)],
                                                          [sys.executable, "-c", HUB_IMPORT]),
        }
        print(f"machine: {os.cpu_count()} CPUs, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for name, (_, yard) in pairs.items():
            print(f"yardstick of {name}: python -c {yard[-1]!r}")
        times: dict[str, list[float]] = {k: [] for k in pairs}
        yards: dict[str, list[float]] = {k: [] for k in pairs}
        for r in range(a.rounds):
            for name, (cmd, yard) in pairs.items():
                shutil.rmtree(tmp / "cards", ignore_errors=True)
                yards[name].append(timed(yard, ok=(0,)))
                times[name].append(timed(cmd))
            print(f"round {r + 1} (load {' '.join(f'{x:.2f}' for x in os.getloadavg())}): "
                  + ", ".join(f"{k.split(' (')[0]} ×{times[k][-1] / yards[k][-1]:.2f}" for k in pairs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{a.rounds} paired rounds, each a fresh process: seconds min/median/max, yardstick seconds, per-round "
          "ratio to the yardstick min/median/max")
    for name, ts in times.items():
        rs = [t / y for t, y in zip(ts, yards[name], strict=True)]
        print(f"{name:42} {min(ts):.3f}/{statistics.median(ts):.3f}/{max(ts):.3f} s  yardstick "
              f"{statistics.median(yards[name]):.3f} s  ×{min(rs):.2f}/{statistics.median(rs):.2f}/{max(rs):.2f}")


if __name__ == "__main__":
    main()
