"""Benchmark at scale: cardgen against huggingface_hub and a floor program, cold and incremental.

    python benchmarks/bench_scale.py [--cards 1000 10000] [--rounds 3]

The tree is generated: organisations, each with a base card and its family (fine-tunes that extend it,
GPTQ and GGUF repackagings that extend and embed it), every card with its own prose, tables, variants,
and one in ten with a risk matrix; shared citations, licences and a mitigation catalogue in `_shared/`.

Cold, in interleaved rounds (each program a fresh process, the graph cache empty), printing each
round's time and min/median/max of the per-round ratios:

* ``cardgen render --jobs 1`` and ``cardgen render`` (its default workers);
* the peer on one process: for each card, huggingface_hub's ``ModelCard.from_template`` with the same
  metadata and a body of the same size, ``save``, then ``ModelCard.load`` of what it wrote (the peer's
  validation pass);
* the bare program on one process: cardgen's own loading, resolution and rendering called directly,
  each README written atomically, and nothing else (no rules, no lint, no graph, no report); it writes
  the same READMEs byte for byte (checked), so it is the floor for those READMEs with these libraries;
* the library floor on one process: the same libraries doing the least any generator must: read each
  source with PyYAML's C loader, render a Jinja template of the README's size, parse it once with
  markdown-it (the lint's parser) and write it. It checks and resolves nothing, and writes other text.

Incremental (the committed READMEs in place, the graph warm): ``cardgen check`` with nothing changed,
after one leaf card changed, after one base card changed, against ``cardgen validate --no-cache`` of
one card. Peak memory is the largest sum of the proportional set sizes (PSS: memory shared by forked
workers counted once) of a program and its workers, sampled every 50 ms.
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
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORDS = (
    "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega river stone cloud maple cedar "
    "falcon otter raven tiger lotus ember frost quartz amber cobalt violet crimson harbor meadow summit "
    "lantern signal vector lattice prism orbit"
).split()
LICENSES = ["apache-2.0", "mit", "llama2", "cc-by-4.0", "cc-by-nc-4.0", "bsd-3-clause", "openrail", "gpl-3.0"]
BARE_NAME = "bare (cardgen's load+resolve+render+write)"
VERBS = ["Exposes", "Misleads", "Reflects", "Leaks", "Fabricates"]
FAMILY = 25  # cards per organisation: a base card and its family


def prose(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def shared() -> dict[str, str]:
    rng = random.Random(-1)
    mitigations = "\n".join(f"  M{i}: {prose(rng, 9)[:-1]}" for i in range(1, 9))
    citations = "\n".join(
        f"  {w}:\n    key: {w}2024\n    type: article\n    title: The {w.capitalize()} corpus and its uses\n"
        f"    author: [{w.capitalize()} Lab]\n    year: 2024" for w in WORDS[:6])
    return {"mitigations.yaml": f"mitigations:\n{mitigations}\n", "citations.yaml": f"citations:\n{citations}\n"}


def risk(rng: random.Random) -> str:
    nu, nr = rng.randint(2, 4), rng.randint(2, 5)
    uses = "\n".join(f"    - {{id: U{u}, purpose: {prose(rng, 4)[:-1]}, capability: {prose(rng, 5)[:-1]}, "
                     f"ai_user: {rng.choice(WORDS).title()} teams, ai_subject: {rng.choice(WORDS).title()} users, "
                     f"domain: {rng.choice(WORDS).title()}}}" for u in range(1, nu + 1))
    risks = "\n".join(
        f"    - {{id: R{r}, statement: {rng.choice(VERBS)} {prose(rng, 8)[:-1].lower()}, layer: capability, "
        f"harm_area: misinformation, mitigations: [M{r}, M{r + 3}]}}" for r in range(1, nr + 1))
    matrix = "\n".join(
        f"    R{r}: {{{', '.join(f'U{u}: ' + rng.choice(['[ai_user]', '[ai_subject]', 'false']) for u in range(1, nu + 1))}}}"
        for r in range(1, nr + 1))
    return f"risk_assessment:\n  uses:\n{uses}\n  risks:\n{risks}\n  matrix:\n{matrix}\n"


def base_card(i: int, owner: str) -> tuple[str, str]:
    rng = random.Random(i)
    name = f"base-{i:05d}-{rng.choice(WORDS)}"
    rows = "\n".join(f"      - [{rng.choice(WORDS)}, {rng.randint(1, 4096)}, {rng.random():.4f}]"
                     for _ in range(rng.randint(3, 9)))
    sections = "\n".join(f"  - heading: {prose(rng, 3)[:-1]}\n    body: |\n      {prose(rng, rng.randint(40, 120))}"
                         for _ in range(rng.randint(2, 4)))
    return name, f"""repo_id: {owner}/{name}
name: {name.title()}
description: |
  {prose(rng, rng.randint(60, 160))}

  {prose(rng, rng.randint(30, 120))}
creator: {{name: {owner.title()} Lab, url: "https://example.org/{owner}"}}
license: {rng.choice(LICENSES)}
language: [en, {rng.choice(["fr", "de", "es", "it", "ja", "zh"])}]
library_name: transformers
pipeline_tag: text-generation
tags: [{rng.choice(WORDS)}, {rng.choice(WORDS)}-{i}]
datasets: [{rng.choice(WORDS)}/{rng.choice(WORDS)}-{i}, {rng.choice(WORDS)}/corpus-{i % 97}]
model_type: llama
parameters: {rng.randint(1, 70)}B
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
citations: [{rng.choice(WORDS[:6])}]
sections:
{sections}
"""


def leaf_card(i: int, owner: str, base: str) -> tuple[str, str]:
    rng = random.Random(i)
    kind = rng.choice(["finetune", "finetune", "gptq", "gguf"])
    name = f"{base}-{kind}-{i:05d}"
    head = f"repo_id: {owner}/{name}\nextends: {owner}/{base}\nname: {name.title()}\n"
    sections = "\n".join(f"  - heading: {prose(rng, 3)[:-1]}\n    body: |\n      {prose(rng, rng.randint(30, 90))}"
                         for _ in range(rng.randint(1, 3)))
    if kind == "finetune":
        body = (f"base_model: {owner}/{base}\nbase_model_relation: finetune\n"
                f"description: |\n  {prose(rng, rng.randint(40, 140))}\n"
                f"tags: [{rng.choice(WORDS)}-{i}]\ndatasets: [{rng.choice(WORDS)}/tune-{i}]\n")
    elif kind == "gptq":
        variants = "\n".join(
            f"    - {{branch: gptq-{b}bit-{g}g, bits: {b}, group_size: {g}, act_order: true, damp_percent: 0.01, "
            f"dataset: wikitext, seq_len: 4096, size: {rng.randint(3, 40)}.{rng.randint(10, 99)} GB, "
            f"description: {prose(rng, 10)[:-1]}}}" for b, g in [(4, 32), (4, 128), (3, 128)][: rng.randint(1, 3)])
        body = (f"base_model_relation: quantized\nembed_base_card: true\ninference: false\nquantization:\n  method: GPTQ\n  variants:\n{variants}\n    - {{branch: main, bits: 4, "
                f"group_size: null, act_order: true, damp_percent: 0.01, dataset: wikitext, seq_len: 4096, "
                f"size: {rng.randint(3, 40)}.5 GB, description: {prose(rng, 8)[:-1]}}}\n")
    else:
        files = "\n".join(
            f"    - {{file: {name}.{q}.gguf, quant_method: {q}, bits: {b}, size: {rng.randint(2, 40)}.1 GB, "
            f"max_ram: {rng.randint(4, 44)}.6 GB, use_case: {prose(rng, 6)[:-1]}}}"
            for q, b in [("Q4_K_M", 4), ("Q5_K_M", 5), ("Q8_0", 8)][: rng.randint(1, 3)])
        body = (f"base_model_relation: quantized\nembed_base_card: true\nlibrary_name: null\nusage:\n  style: llama-cpp\n"
                f"  file: {name}.Q4_K_M.gguf\nquantization:\n  method: GGUF\n  files:\n{files}\n")
    text = head + body + f"sections:\n{sections}\n"
    if i % 10 == 3:
        text += risk(rng)
    return name, text


def make_tree(root: Path, n: int) -> list[tuple[Path, Path]]:
    """Write ``n`` cards; returns (base folder, one of its leaves) per organisation."""
    (root / "_shared").mkdir(parents=True)
    for f, text in shared().items():
        (root / "_shared" / f).write_text(text, "utf-8")
    families = []
    i = 0
    while i < n:
        owner = f"org{i // FAMILY:04d}"
        base, text = base_card(i, owner)
        (root / owner / base).mkdir(parents=True)
        (root / owner / base / "card.yaml").write_text(text, "utf-8")
        leaf = None
        for j in range(i + 1, min(i + FAMILY, n)):
            name, text = leaf_card(j, owner, base)
            (root / owner / name).mkdir()
            (root / owner / name / "card.yaml").write_text(text, "utf-8")
            leaf = leaf or root / owner / name
        families.append((root / owner / base, leaf or root / owner / base))
        i += FAMILY
    return families


# -- the peer and the floor, each run as its own process ------------------------------------------
PEER = r"""
import sys, yaml
from pathlib import Path
from huggingface_hub import ModelCard, ModelCardData
src, out = Path(sys.argv[1]), Path(sys.argv[2])
sizes = dict(line.split("\t") for line in Path(sys.argv[3]).read_text().splitlines())
for f in sorted(src.rglob("card.yaml")):
    if "_shared" in f.parts:
        continue
    d = yaml.load(f.read_text("utf-8"), Loader=yaml.CSafeLoader)
    repo = d["repo_id"]
    data = ModelCardData(license=d.get("license"), language=d.get("language"), tags=d.get("tags"),
                         datasets=d.get("datasets"), library_name=d.get("library_name"),
                         pipeline_tag=d.get("pipeline_tag"), base_model=d.get("base_model"))
    body = (str(d.get("description", "")) + " ") * 50
    card = ModelCard.from_template(data, model_id=repo, model_description=body[: int(sizes.get(repo, 4000))])
    p = out / repo / "README.md"
    p.parent.mkdir(parents=True, exist_ok=True)
    card.save(p)
    ModelCard.load(p)
"""

FLOOR = r"""
import os, sys, tempfile, yaml, jinja2
from pathlib import Path
from markdown_it import MarkdownIt
src, out = Path(sys.argv[1]), Path(sys.argv[2])
sizes = dict(line.split("\t") for line in Path(sys.argv[3]).read_text().splitlines())
md = MarkdownIt("commonmark").enable("table").disable("inline")
tpl = jinja2.Environment(autoescape=False, keep_trailing_newline=True).from_string(
    "---\nlicense: {{ d.license }}\n---\n# {{ d.name }}\n\n{{ body }}\n")
for f in sorted(src.rglob("card.yaml")):
    if "_shared" in f.parts:
        continue
    d = yaml.load(f.read_text("utf-8"), Loader=yaml.CSafeLoader)
    body = (str(d.get("description", "")) + "\n\n") * 50
    text = tpl.render(d=d, body=body[: int(sizes.get(d["repo_id"], 4000))])
    md.parse(text)
    p = out / d["repo_id"] / "README.md"
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as w:
        w.write(text)
    os.replace(tmp, p)
"""

BARE = r"""
import os, sys, tempfile
from pathlib import Path
from cardgen.cache import RunCache
from cardgen.diagnostics import Collector
from cardgen.renderer import render_card
from cardgen.resolve import Resolver
from cardgen.scope import select
from cardgen.sources import load_project
src, out = Path(sys.argv[1]), Path(sys.argv[2])
project = load_project(select([src]).scopes[0], jobs=1)
cache, report = RunCache(), Collector()
for card in Resolver(project, report).all_cards():
    text = render_card(card, cache, report)
    p = out / card.repo_id / "README.md"
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as w:
        w.write(text)
    os.replace(tmp, p)
"""


def _pss(pid: int) -> int:
    """A process's proportional set size in bytes (pages shared with its forked workers counted once
    over them all), or its resident size where the kernel has no smaps_rollup."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _family(pid: int) -> set[int]:
    """A process and its descendants (from each thread's ``children`` list in /proc)."""
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        out.add(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split() if int(c) not in out]
        except OSError:
            continue
    return out


def peak_rss(pid: int, stop: threading.Event, out: list[int]) -> None:
    """The largest sum of the memory of a process and its descendants, sampled every 50 ms."""
    best = 0
    while not stop.is_set():
        best = max(best, sum(_pss(p) for p in _family(pid)))
        stop.wait(0.05)
    out.append(best)


def timed(args: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, int]:
    t0 = time.perf_counter()
    p = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stop, peak = threading.Event(), []
    sampler = threading.Thread(target=peak_rss, args=(p.pid, stop, peak))
    sampler.start()
    _, err = p.communicate()
    took = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if p.returncode not in ok:
        raise SystemExit(f"{' '.join(args)} exited {p.returncode}:\n{err[-3000:]}")
    return took, peak[0]


def busy_machine(cardgen: list[str], work: Path, env: dict[str, str], rounds: int) -> None:
    """A cold render with every CPU already busy (one spinning process per CPU): the default workers
    against one worker, in interleaved rounds."""
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        time.sleep(1)
        times: dict[str, list[float]] = {"--jobs 1": [], "default": []}
        for r in range(rounds):
            for k in (("--jobs 1", "default") if r % 2 == 0 else ("default", "--jobs 1")):
                shutil.rmtree(work / "cache", ignore_errors=True)
                shutil.rmtree(work / "ob", ignore_errors=True)
                extra = ["--jobs", "1"] if k == "--jobs 1" else []
                times[k].append(timed([*cardgen, "render", *extra, "--out", str(work / "ob"), "cards"], work, env)[0])
    finally:
        for p in spin:
            p.kill()
            p.wait()
    ratio = [x / y for x, y in zip(times["default"], times["--jobs 1"], strict=True)]
    print(f"\n  busy machine ({len(spin)} spinning processes), cold render: --jobs 1 {mmm(times['--jobs 1'])} s, "
          f"default {mmm(times['default'])} s, default / one worker {mmm(ratio)}")


def cold_table(n: int, rounds: int, times: dict[str, list[float]], peaks: dict[str, list[int]]) -> None:
    print(f"\n{n} cards, cold, {rounds} interleaved rounds: seconds min / median / max, peak memory (PSS), per-round "
          "ratios min / median / max")
    floor = times["floor (yaml+jinja+markdown-it+write)"]
    bare = times[BARE_NAME]
    peer = times["huggingface_hub from_template+save+load"]
    for k, ts in times.items():
        vs_bare = [x / y for x, y in zip(ts, bare, strict=True)]
        vs_floor = [x / y for x, y in zip(ts, floor, strict=True)]
        vs_peer = [x / y for x, y in zip(ts, peer, strict=True)]
        print(f"  {k:44} {mmm(ts)} s  {max(peaks[k]) / 2**20:5.0f} MB  ×bare {mmm(vs_bare)}  "
              f"×floor {mmm(vs_floor)}  ×peer {mmm(vs_peer)}")


def mmm(xs: list[float]) -> str:
    return f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cards", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--incremental-only", action="store_true", help="only the incremental table")
    a = ap.parse_args()
    py = sys.executable
    print(f"machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), Python {sys.version.split()[0]}")
    for n in a.cards:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            families = make_tree(work / "cards", n)
            env = {**os.environ, "PYTHONPATH": str(REPO), "CARDGEN_CACHE_DIR": str(work / "cache")}
            cardgen = [py, "-m", "cardgen"]
            # the READMEs' sizes, for the peer and the floor to write the same amount
            timed([*cardgen, "render", "--out", str(work / "rendered"), "cards"], work, env)
            sizes = work / "sizes.tsv"
            sizes.write_text("".join(f"{p.parent.parent.name}/{p.parent.name}\t{p.stat().st_size}\n"
                                     for p in (work / "rendered").glob("*/*/README.md")))
            peer_py, floor_py, bare_py = work / "peer.py", work / "floor.py", work / "bare.py"
            peer_py.write_text(PEER)
            floor_py.write_text(FLOOR)
            bare_py.write_text(BARE)
            progs = {
                "cardgen render --jobs 1": [*cardgen, "render", "--jobs", "1", "--out", str(work / "o1"), "cards"],
                "cardgen render": [*cardgen, "render", "--out", str(work / "o2"), "cards"],
                "huggingface_hub from_template+save+load": [py, str(peer_py), "cards", str(work / "o3"), str(sizes)],
                "floor (yaml+jinja+markdown-it+write)": [py, str(floor_py), "cards", str(work / "o4"), str(sizes)],
                BARE_NAME: [py, str(bare_py), "cards", str(work / "o5")],
            }
            times: dict[str, list[float]] = {k: [] for k in progs}
            peaks: dict[str, list[int]] = {k: [] for k in progs}
            for r in range(0 if a.incremental_only else a.rounds):
                order = list(progs) if r % 2 == 0 else list(reversed(progs))
                for k in order:
                    shutil.rmtree(work / "cache", ignore_errors=True)
                    for o in ("o1", "o2", "o3", "o4", "o5"):
                        shutil.rmtree(work / o, ignore_errors=True)
                    t, m = timed(progs[k], work, env)
                    times[k].append(t)
                    peaks[k].append(m)
                    if k == BARE_NAME:  # the bare program writes what cardgen writes, byte for byte
                        for readme in (work / "rendered").glob("*/*/README.md"):
                            twin = work / "o5" / readme.relative_to(work / "rendered")
                            assert twin.read_bytes() == readme.read_bytes(), twin
            if not a.incremental_only:
                cold_table(n, a.rounds, times, peaks)
            # incremental: the committed READMEs are those rendered above, the graph warm
            shutil.rmtree(work / "cache", ignore_errors=True)
            timed([*cardgen, "render", "--out", str(work / "rendered"), "cards"], work, env)
            base, leaf = families[len(families) // 2]
            inc: dict[str, list[float]] = {}
            for _ in range(a.rounds):
                inc.setdefault("check, nothing changed", []).append(
                    timed([*cardgen, "check", "--out", str(work / "rendered"), "cards"], work, env)[0])
                leaf_src = leaf / "card.yaml"
                old = leaf_src.read_text()
                leaf_src.write_text(old.replace("name: ", "name: Changed ", 1))
                inc.setdefault("check, one leaf card changed", []).append(
                    timed([*cardgen, "check", "--out", str(work / "rendered"), "cards"], work, env, ok=(1,))[0])
                leaf_src.write_text(old)
                base_src = base / "card.yaml"
                old = base_src.read_text()
                base_src.write_text(old.replace("name: ", "name: Changed ", 1))
                inc.setdefault(f"check, one base card changed ({FAMILY} cards)", []).append(
                    timed([*cardgen, "check", "--out", str(work / "rendered"), "cards"], work, env, ok=(1,))[0])
                base_src.write_text(old)
                timed([*cardgen, "check", "--out", str(work / "rendered"), "cards"], work, env)  # back in step
                inc.setdefault("validate --no-cache of one card", []).append(
                    timed([*cardgen, "validate", "--no-cache", str(leaf)], work, env)[0])
            if not a.incremental_only:
                busy_machine(cardgen, work, env, a.rounds)
            one = statistics.median(inc["validate --no-cache of one card"])
            print(f"\n{n} cards, incremental (graph warm): seconds min / median / max, median × one-card validate")
            for k, ts in inc.items():
                print(f"  {k:42} {mmm(ts)} s  ×{statistics.median(ts) / one:.2f}")


if __name__ == "__main__":
    main()
