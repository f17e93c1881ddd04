"""What the pre-commit hook pays: `cardgen validate FILE` for one card of the bundled cards, paired in each
round against `python -c "import yaml, pydantic"` (the import of the two libraries any YAML-and-pydantic
validator pays), each a fresh process, in interleaved rounds.

    python benchmarks/bench_validate.py [--rounds 9]

Three one-card runs are measured, each against the yardstick run just before it:
* warm: the dependency graph holds the card fresh (the hook on a commit that did not touch it, or a
  second run);
* edited: the card's source changed since the last run (the hook on the commit that changed it): it is
  loaded, checked, rendered and linted, so pydantic's models, Jinja and markdown-it are all paid for;
* no cache: `--no-cache`, nothing kept between runs.

Printed per case: each round's ratio, then min / median / max, and the machine's load average beside them.
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
CARD = Path("cards/stabilityai/StableBeluga-7B/card.yaml")


def seconds(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-500:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cardgen-bench-") as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "cards", work / "cards")
        env = {**os.environ, "CARDGEN_CACHE_DIR": str(work / "cache")}
        py = sys.executable
        yardstick = [py, "-c", "import yaml, pydantic"]
        validate = [py, "-m", "cardgen", "validate", "-q", str(CARD)]
        card = work / CARD
        text = card.read_text("utf-8")
        seconds([py, "-m", "cardgen", "validate", "-q", "cards"], work, env)  # the graph, warm
        for _ in range(2):  # Python's own caches (compiled modules), warm
            seconds(yardstick, work, env)
            seconds(validate, work, env)

        def edited() -> list[str]:
            edited.n += 1  # type: ignore[attr-defined]
            card.write_text(text + f"# edit {edited.n}\n", "utf-8")  # type: ignore[attr-defined]
            return validate

        edited.n = 0  # type: ignore[attr-defined]
        cases = {"warm": lambda: validate, "edited": edited,
                 "no cache": lambda: [py, "-m", "cardgen", "validate", "-q", "--no-cache", str(CARD)]}
        ratios: dict[str, list[float]] = {name: [] for name in cases}
        times: dict[str, list[float]] = {name: [] for name in ["yardstick", *cases]}
        for _ in range(args.rounds):
            for name, command in cases.items():
                base = seconds(yardstick, work, env)
                cmd = command()
                took = seconds(cmd, work, env)
                times["yardstick"].append(base)
                times[name].append(took)
                ratios[name].append(took / base)
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs; "
              f"{args.rounds} rounds")
        print(f"yardstick `python -c \"import yaml, pydantic\"`: median {statistics.median(times['yardstick']):.3f} s")
        for name, rs in ratios.items():
            print(f"one-card validate, {name:8}: median {statistics.median(times[name]):.3f} s; ratio to the "
                  f"yardstick min {min(rs):.2f}x, median {statistics.median(rs):.2f}x, max {max(rs):.2f}x "
                  f"(rounds: {' '.join(f'{r:.2f}' for r in rs)})")


if __name__ == "__main__":
    main()
