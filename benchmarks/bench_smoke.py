"""Smoke-test benchmark: the full CPU run over the original bundled cards (Stable Beluga, StableLM, the
GPTQ repackaging) with tiny models, by two checkouts of cardgen in the same run, and the
tokenizer-only tier over every bundled card.

    python benchmarks/bench_smoke.py --before /tmp/before --after .

Needs the `smoke` and `test` extras (the tiny models are built by `tests/tinymodels.py`). Each run is a
fresh `python -m cardgen smoke` process, the two checkouts back to back in each round; the figure is
each round's ratio (after ÷ before) with min / median / max. Every card the folders hold is given a tiny
model (a Llama one, or a GPT-NeoX one for StableLM), so none is skipped as "not available locally"; the
benchmark stops when a run skips a card or when the two checkouts exit differently, since their times
would then measure different work.
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


def repos(checkout: Path, folders: list[Path], root: Path) -> list[str]:
    """Every repo id the card folders describe (what `cardgen render` writes a README for)."""
    out = root / "repos"
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    subprocess.run([sys.executable, "-m", "cardgen", "render", "--no-cache", "--out", str(out), *map(str, folders)],
                   cwd=checkout, env=env, capture_output=True, check=True)
    return sorted(f"{p.parent.parent.name}/{p.parent.name}" for p in out.glob("*/*/README.md"))


def models(root: Path, names: list[str]) -> dict[str, Path]:
    sys.path.insert(0, str(REPO / "tests"))
    from test_smoke import BELUGA_CHAT  # noqa: PLC0415 - the tests' own tiny models

    from tinymodels import build_llama, build_neox

    llama, neox = build_llama(root / "llama", chat_template=BELUGA_CHAT), build_neox(root / "neox")
    return {r: neox if "stablelm" in r.lower() else llama for r in names}


def run(checkout: Path, cards: list[Path], paths: dict[str, Path], *extra: str) -> tuple[float, int]:
    args = [a for repo, p in paths.items() for a in ("--model-path", f"{repo}={p}")]
    env = {**os.environ, "PYTHONPATH": str(checkout), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "cardgen", "smoke", *map(str, cards), *args, "--device", "cpu", *extra],
                       cwd=checkout, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if "not available locally" in p.stdout + p.stderr:
        raise SystemExit(f"{checkout}: a card was skipped, the run measures less than it names:\n{p.stdout[-2000:]}")
    return took, p.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="a checkout of the earlier cardgen")
    ap.add_argument("--after", type=Path, default=REPO)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        names = repos(a.after, [a.after / "cards" / c for c in ORIGINAL], Path(d))
        paths = models(Path(d), repos(a.after, [a.after / "cards"], Path(d) / "all"))
        times: dict[str, list[float]] = {"before": [], "after": []}
        codes: dict[str, list[int]] = {"before": [], "after": []}
        for r in range(a.rounds):
            for label, checkout in (("before", a.before), ("after", a.after))[::1 if r % 2 == 0 else -1]:
                t, code = run(checkout, [checkout / "cards" / c for c in ORIGINAL], paths)
                times[label].append(t)
                codes[label].append(code)
            if codes["before"][-1] != codes["after"][-1]:
                raise SystemExit(f"the two checkouts exit differently ({codes}): their times are not comparable")
            print(f"round {r + 1} (load {' '.join(f'{x:.2f}' for x in os.getloadavg())}): before "
                  f"{times['before'][-1]:.1f} s, after {times['after'][-1]:.1f} s, exit {codes['after'][-1]}")
        tok, code = run(a.after, [a.after / "cards"], paths, "--tokenizer-only")
    ratio = [x / y for x, y in zip(times["after"], times["before"], strict=True)]
    print(f"full CPU run, original bundled cards ({len(names)} cards, every one run): before "
          f"{statistics.median(times['before']):.1f} s, after {statistics.median(times['after']):.1f} s; after ÷ "
          f"before per round {min(ratio):.2f} / {statistics.median(ratio):.2f} / {max(ratio):.2f}")
    print(f"--tokenizer-only over every bundled card ({len(paths)} cards): {tok:.1f} s (exit {code})")


if __name__ == "__main__":
    main()
