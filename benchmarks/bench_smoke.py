"""Smoke-test benchmark: the full CPU run over the original bundled cards (Stable Beluga, StableLM, the
GPTQ repackaging) with tiny models, by two checkouts of cardgen in the same run, and the
tokenizer-only tier over every bundled card.

    python benchmarks/bench_smoke.py --before /tmp/before --after .

Needs the `smoke` and `test` extras (the tiny models are built by `tests/tinymodels.py`). Each run is a
fresh `python -m cardgen smoke` process; the figure is the median of ``--rounds`` interleaved runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ORIGINAL = ["stabilityai", "petals-team", "TheBloke"]
LLAMA = ["stabilityai/StableBeluga-7B", "stabilityai/StableBeluga2", "petals-team/StableBeluga2",
         "TheBloke/StableBeluga2-70B-GPTQ"]
NEOX = ["stabilityai/stablelm-tuned-alpha-3b", "stabilityai/stablelm-tuned-alpha-7b"]


def models(root: Path) -> dict[str, Path]:
    sys.path.insert(0, str(REPO / "tests"))
    from test_smoke import BELUGA_CHAT  # noqa: PLC0415 - the tests' own tiny models

    from tinymodels import build_llama, build_neox

    llama, neox = build_llama(root / "llama", chat_template=BELUGA_CHAT), build_neox(root / "neox")
    return {**{r: llama for r in LLAMA}, **{r: neox for r in NEOX}}


def run(checkout: Path, cards: list[Path], paths: dict[str, Path], *extra: str) -> tuple[float, int]:
    args = [a for repo, p in paths.items() for a in ("--model-path", f"{repo}={p}")]
    env = {**os.environ, "PYTHONPATH": str(checkout), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "cardgen", "smoke", *map(str, cards), *args, "--device", "cpu", *extra],
                       cwd=checkout, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, p.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="a checkout of the earlier cardgen")
    ap.add_argument("--after", type=Path, default=REPO)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        paths = models(Path(d))
        times: dict[str, list[float]] = {"before": [], "after": []}
        codes: dict[str, int] = {}
        for _ in range(a.rounds):
            for label, checkout in (("before", a.before), ("after", a.after)):
                t, code = run(checkout, [checkout / "cards" / c for c in ORIGINAL], paths)
                times[label].append(t)
                codes[label] = code
        tok, code = run(a.after, [a.after / "cards"], paths, "--tokenizer-only")
    before, after = statistics.median(times["before"]), statistics.median(times["after"])
    print(f"full CPU run, original bundled cards: before {before:.1f} s (exit {codes['before']}), "
          f"after {after:.1f} s (exit {codes['after']}): {after / before:.2f}x")
    print(f"--tokenizer-only over every bundled card: {tok:.1f} s (exit {code})")


if __name__ == "__main__":
    main()
