"""Benchmark: validate + render N generated card sources, beside huggingface_hub's own card rendering.

    python benchmarks/bench_render.py [--cards 1000] [--rounds 3] [--jobs N]

Both are measured in the same run, on the same machine: cardgen validates and renders N card sources
(each a full card like the bundled StableBeluga-7B: metadata, prompt, usage snippet, training tables,
citations, free sections), and `huggingface_hub.ModelCard.from_template` renders N cards of similar
size from the library's default model card template. The two are measured in interleaved rounds
(each cardgen round in a fresh process: nothing learnt in one round helps the next) and the medians
are compared, since a shared machine's speed drifts. Prints both rates and the ratio. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SOURCE = (REPO / "cards/stabilityai/StableBeluga-7B/card.yaml").read_text("utf-8")


def make_cards(root: Path, n: int) -> None:
    shutil.copytree(REPO / "cards/_shared", root / "_shared")
    for i in range(n):
        owner, name = f"org{i % 37}", f"model-{i:05d}"
        d = root / owner / name
        d.mkdir(parents=True)
        text = (
            SOURCE.replace("stabilityai/StableBeluga-7B", f"{owner}/{name}")
            .replace("name: Stable Beluga 7B", f"name: Model {i}")
            .replace("parameters: 7B", f"parameters: {i % 70 + 1}B")
        )
        (d / "card.yaml").write_text(text, "utf-8")


def bench_cardgen(root: Path, n: int, jobs: int | None) -> tuple[float, int, int]:
    from cardgen.pipeline import render_all
    from cardgen.scope import select

    t0 = time.perf_counter()
    rendering = render_all(select([root]), jobs=jobs, keep_cards=False)  # what `cardgen render` and `cardgen check` run
    took = time.perf_counter() - t0
    errors = [d for d in rendering.diagnostics if d.severity == "error"]
    assert not errors, errors[:3]
    assert len(rendering.texts) == n, (len(rendering.texts), n)
    sizes = sorted(len(t) for t in rendering.texts.values())
    return took, sizes[len(sizes) // 2], len(rendering.texts)


def bench_hub(n: int, like: int) -> tuple[float, int]:
    from huggingface_hub import ModelCard, ModelCardData

    para = (
        "Beluga is a new technology that carries risks with use. Testing conducted to date has been in "
        "English, and has not covered, nor could it cover all scenarios. "
    )
    sizes = []
    t0 = time.perf_counter()
    for i in range(n):
        data = ModelCardData(
            language=["en"],
            license="other",
            license_name="stable-beluga-non-commercial",
            license_link="LICENSE.txt",
            library_name="transformers",
            pipeline_tag="text-generation",
            datasets=["conceptofmind/cot_submix_original", "conceptofmind/t0_submix_original"],
            base_model="meta-llama/Llama-2-7b-hf",
        )
        card = ModelCard.from_template(
            data,
            model_id=f"org{i % 37}/model-{i:05d}",
            model_summary=f"Model {i} is a Llama2 model finetuned on an Orca style dataset.",
            model_description=para * 2,
            developers="Stability AI",
            model_type="llama",
            language="English",
            license="Stable Beluga non-commercial",
            base_model="Llama 2",
            repo="https://huggingface.co/x",
            direct_use=para,
            out_of_scope_use=para,
            bias_risks_limitations=para * 2,
            bias_recommendations=para,
            get_started_code="```python\nprint('hello')\n```\n" * 6,
            training_data=para,
            training_procedure=para,
            training_regime="bf16 mixed precision",
            testing_data=para,
            results=para,
            citation_bibtex="@misc{x, title={y}, year={2023}}\n" * 10,
        )
        sizes.append(len(str(card)))
    took = time.perf_counter() - t0
    sizes.sort()
    return took, sizes[len(sizes) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cards", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=None, help="cardgen worker processes (default: one per CPU)")
    ap.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of both measurements, interleaved; the medians are compared (default 3)",
    )
    ap.add_argument("--cardgen-only", metavar="DIR", help=argparse.SUPPRESS)  # one cold cardgen round
    args = ap.parse_args()
    n = args.cards
    if args.cardgen_only:
        took, size, _ = bench_cardgen(Path(args.cardgen_only), n, args.jobs)
        print(json.dumps({"seconds": took, "median_bytes": size}))
        return
    ours, hub, our_size, hub_size = [], [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cards"
        make_cards(root, n)
        for r in range(args.rounds):
            # each cardgen round in a fresh process, so that no memo of an earlier round helps it
            cmd = [sys.executable, __file__, "--cards", str(n), "--cardgen-only", str(root)]
            if args.jobs is not None:
                cmd += ["--jobs", str(args.jobs)]
            got = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            ours.append(got["seconds"])
            our_size = got["median_bytes"]
            took, hub_size = bench_hub(n, our_size)
            hub.append(took)
            print(
                f"round {r + 1}: cardgen {n / ours[-1]:,.0f} cards/s, from_template {n / hub[-1]:,.0f} cards/s, "
                f"ratio {hub[-1] / ours[-1]:.1f}x"
            )
    r_ours, r_hub = n / statistics.median(ours), n / statistics.median(hub)
    print(
        f"machine: {os.cpu_count()} CPUs; cardgen jobs: {args.jobs or os.cpu_count()}; {args.rounds} rounds, medians:"
    )
    print(
        f"cardgen validate+render: {n} cards in {statistics.median(ours):.2f} s = {r_ours:,.0f} cards/s "
        f"(median README {our_size:,} bytes)"
    )
    print(
        f"huggingface_hub ModelCard.from_template: {n} cards in {statistics.median(hub):.2f} s = {r_hub:,.0f} cards/s "
        f"(median README {hub_size:,} bytes)"
    )
    print(f"ratio: {r_ours / r_hub:.1f}x")


if __name__ == "__main__":
    main()
