"""Paired benchmark: `cardgen render` and `cardgen check` of 1,000 all-different cards, run by two
checkouts of cardgen in interleaved rounds (each run a fresh process), medians and their ratio.

    python benchmarks/bench_paired.py --before /tmp/before --after .

Every generated card has its own name, description, tags, licence, datasets, citations, training
table and sections, so that no memo of one card's output serves another.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORDS = (
    "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega river stone cloud maple cedar "
    "falcon otter raven tiger lotus ember frost quartz amber cobalt violet crimson"
).split()
LICENSES = ["apache-2.0", "mit", "llama2", "cc-by-4.0", "cc-by-nc-4.0", "bsd-3-clause", "openrail", "gpl-3.0"]


def prose(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def card(i: int) -> str:
    rng = random.Random(i)
    owner, name = f"org{i % 41}", f"model-{i:05d}-{rng.choice(WORDS)}"
    rows = "\n".join(
        f"      - [{rng.choice(WORDS)}, {rng.randint(1, 4096)}, {rng.random():.4f}]" for _ in range(rng.randint(2, 8))
    )
    sections = "\n".join(
        f"  - heading: {prose(rng, 3)[:-1]}\n    body: |\n      {prose(rng, rng.randint(20, 80))}"
        for _ in range(rng.randint(1, 4))
    )
    return f"""# yaml-language-server: $schema=../../schemas/card.schema.json
repo_id: {owner}/{name}
name: {name.title()}
description: |
  {prose(rng, rng.randint(30, 120))}

  {prose(rng, rng.randint(30, 120))}
creator: {{name: {rng.choice(WORDS).title()} Lab, url: "https://example.org/{i}"}}
license: {rng.choice(LICENSES)}
language: [en, {rng.choice(["fr", "de", "es", "it", "ja", "zh"])}]
library_name: transformers
pipeline_tag: text-generation
tags: [{rng.choice(WORDS)}, {rng.choice(WORDS)}-{i}]
base_model: meta-llama/Llama-2-{rng.choice(["7b", "13b", "70b"])}-hf
base_model_relation: finetune
datasets: [{rng.choice(WORDS)}/{rng.choice(WORDS)}-{i}, {rng.choice(WORDS)}/corpus-{i % 97}]
prompt:
  template: "### {rng.choice(WORDS).title()}:\\n{{system_message}}\\n\\n### User:\\n{{prompt}}\\n\\n### Assistant:\\n"
  system_prompt: {prose(rng, 12)}
  stop_strings: ["### User:"]
usage: {{dtype: bfloat16, generation: {{do_sample: true, top_p: 0.{rng.randint(50, 99)}}}, max_new_tokens: {rng.randint(64, 1024)}}}
training:
  procedure: {prose(rng, rng.randint(20, 60))}
  hyperparameters:
    columns: [name, steps, lr]
    rows:
{rows}
citations:
  - {{key: ref{i}, type: article, title: "{prose(rng, 8)}", author: [{rng.choice(WORDS).title()}, {rng.choice(WORDS).title()}], year: {2000 + i % 25}}}
sections:
{sections}
"""


def make_cards(root: Path, n: int) -> None:
    (root / "_shared").mkdir(parents=True)
    for i in range(n):
        text = card(i)
        repo = text.split("repo_id: ", 1)[1].split("\n", 1)[0]
        d = root / repo
        d.mkdir(parents=True)
        (d / "card.yaml").write_text(text, "utf-8")


def run(checkout: Path, args: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout), "CARDGEN_CACHE_DIR": "off"}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "cardgen", *args], cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(
            f"{checkout}: cardgen {' '.join(args)} exited {p.returncode}:\n{p.stdout[-2000:]}{p.stderr[-2000:]}"
        )
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="checkout of the baseline")
    ap.add_argument("--after", type=Path, default=REPO, help="checkout measured against it (default: this one)")
    ap.add_argument("--cards", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_cards(work / "cards", a.cards)
        times: dict[tuple[str, str], list[float]] = {}
        for r in range(a.rounds):
            for label, checkout in (
                (("before", a.before), ("after", a.after)) if r % 2 == 0 else (("after", a.after), ("before", a.before))
            ):
                out = work / f"out-{label}"
                shutil.rmtree(out, ignore_errors=True)
                times.setdefault((label, "render"), []).append(
                    run(checkout.resolve(), ["render", "--out", str(out), "cards"], work)
                )
                times.setdefault((label, "check"), []).append(
                    run(checkout.resolve(), ["check", "--out", str(out), "cards"], work)
                )
        print(
            f"{a.cards} all-different cards, {a.rounds} interleaved rounds, {os.cpu_count()} CPUs; seconds (min/median/max)"
        )
        for cmd in ("render", "check"):
            b, f = times[("before", cmd)], times[("after", cmd)]
            ratios = [x / y for x, y in zip(f, b, strict=True)]
            print(
                f"{cmd:7} before {min(b):.2f}/{statistics.median(b):.2f}/{max(b):.2f}  after {min(f):.2f}/"
                f"{statistics.median(f):.2f}/{max(f):.2f}  after/before per round: median {statistics.median(ratios):.2f} "
                f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
            )


if __name__ == "__main__":
    main()
