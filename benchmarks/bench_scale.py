"""Benchmark at scale, on a generated family tree (``familytree``): the cold render against the floor
program that writes the same bytes, and the incremental runs against a one-card `validate --no-cache`.

    nice python benchmarks/bench_scale.py [--cards 1000 10000] [--rounds 5] [--only cold|incremental]

Every figure is paired: each round runs the measured program and its yardstick back to back (each a
fresh process), and the per-round ratios are printed with their min / median / max; the machine's load
(``os.getloadavg()``) is printed beside each round, so that a noisy round can be seen for what it is.

Cold (the graph's cache empty, the output folder empty), per round:

* ``cardgen render --jobs 1`` against the floor program: cardgen's own loading, resolution and
  rendering called directly, each README written atomically, and nothing else (no rules, no lint, no
  graph, no report). It writes the same READMEs byte for byte (checked every round), so it is the floor
  for these READMEs with these libraries. Peak memory of each (PSS: pages shared with forked workers
  counted once, sampled every 50 ms).
* with ``--more``: ``cardgen render`` with its default workers, and huggingface_hub writing and reading
  cards of the same sizes (``ModelCard.from_template`` + ``save`` + ``load``), against the same floor.

Incremental (the committed READMEs in place, the graph warm), each scenario timed and then a one-card
``cardgen validate --no-cache`` of a plain leaf, back to back; the edit is undone and the graph brought
back in step (untimed, ``settle``: once the undone files are older than the stat cache's margin, as a
user's next command finds them) before the next scenario. The scenarios' order turns each round.

* nothing changed: ``cardgen check``;
* a plain leaf changed (its name), a risk-bearing leaf changed (a risk's mitigations, so the catalogue
  rules have new facts to judge), a base card changed (its name: it and the 24 cards of its family are
  rebuilt): ``cardgen check`` (exit 1: the READMEs drifted);
* a shared file changed (a citation's title, which every card of the families citing it shows):
  ``cardgen check``; the cost per README changed, ``(time - nothing changed's time) / READMEs changed``,
  is printed beside the cold render's time per README;
* the hook pair the project's pre-commit hooks run on a commit that changed a leaf:
  ``cardgen validate FILE`` then ``cardgen check --changed FILE``, timed together;
* a whole-tree ``cardgen check`` right after a scoped ``cardgen validate LEAF`` (untimed), nothing
  changed: against the one-card validate, and against "nothing changed" of the same round.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from familytree import Tree, make_tree  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

BARE = r"""
import os, sys, tempfile
from pathlib import Path
from cardgen.cache import RunCache
from cardgen.diagnostics import Collector
from cardgen.loading.scope import select
from cardgen.loading.sources import load_project
from cardgen.rendering.jinja import render_card
from cardgen.resolve import Resolver
src, out = Path(sys.argv[1]), Path(sys.argv[2])
project = load_project(select([src]).scopes[0], jobs=1)
cache, report = RunCache(), Collector()
for card in Resolver(project, report).all_cards():
    text = render_card(card, cache, report)
    p = out / card.repo_id / "README.md"
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as w:
        w.write(text)
    os.replace(tmp, p)
"""

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


# -- measuring -----------------------------------------------------------------------------------------

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


def _peak(pid: int, stop: threading.Event, out: list[int]) -> None:
    best = 0
    while not stop.is_set():
        best = max(best, sum(_pss(p) for p in _family(pid)))
        stop.wait(0.05)
    out.append(best)


@dataclass
class Run:
    seconds: float
    peak: int  # bytes
    out: str


def timed(args: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> Run:
    """Run a program, its time and peak memory (it must exit with one of ``ok``)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stop, peak = threading.Event(), list[int]()
    sampler = threading.Thread(target=_peak, args=(p.pid, stop, peak))
    sampler.start()
    out, _ = p.communicate()
    took = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if p.returncode not in ok:
        raise SystemExit(f"{' '.join(args)} exited {p.returncode} (expected {ok}):\n{out[-3000:]}")
    return Run(took, peak[0], out)


def mmm(xs: list[float], fmt: str = ".2f") -> str:
    return f"{min(xs):{fmt}} / {statistics.median(xs):{fmt}} / {max(xs):{fmt}}"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- cold ------------------------------------------------------------------------------------------------

def cold(work: Path, cardgen: list[str], env: dict[str, str], tree: Tree, rounds: int, more: bool) -> float:
    """The cold table; returns the median seconds per README of ``render --jobs 1``."""
    py = sys.executable
    bare_py, peer_py = work / "bare.py", work / "peer.py"
    bare_py.write_text(BARE)
    peer_py.write_text(PEER)
    sizes = work / "sizes.tsv"
    sizes.write_text("".join(f"{p.parent.parent.name}/{p.parent.name}\t{p.stat().st_size}\n"
                             for p in (work / "rendered").glob("*/*/README.md")))
    progs = {"cardgen render --jobs 1": [*cardgen, "render", "--jobs", "1", "--out", str(work / "o1"), "cards"],
             "floor (same bytes)": [py, str(bare_py), "cards", str(work / "o2")]}
    if more:
        progs["cardgen render (default workers)"] = [*cardgen, "render", "--out", str(work / "o3"), "cards"]
        progs["huggingface_hub from_template+save+load"] = [py, str(peer_py), "cards", str(work / "o4"), str(sizes)]
    runs: dict[str, list[Run]] = {k: [] for k in progs}
    print(f"\n{tree.cards} cards, cold (graph cache and output empty), {rounds} paired rounds:")
    for r in range(rounds):
        order = list(progs) if r % 2 == 0 else list(reversed(progs))
        for k in order:
            shutil.rmtree(work / "cache", ignore_errors=True)
            for o in ("o1", "o2", "o3", "o4"):
                shutil.rmtree(work / o, ignore_errors=True)
            os.sync()  # the deletions written out before the clock starts: no program pays for another's
            runs[k].append(timed(progs[k], work, env))
            if k == "floor (same bytes)":  # the floor writes what cardgen writes, byte for byte
                for readme in (work / "rendered").glob("*/*/README.md"):
                    twin = work / "o2" / readme.relative_to(work / "rendered")
                    assert twin.read_bytes() == readme.read_bytes(), twin
        floor = runs["floor (same bytes)"][-1].seconds
        print(f"  round {r + 1} (load {load()}): "
              + ", ".join(f"{k} {v[-1].seconds:.2f} s (×floor {v[-1].seconds / floor:.2f})" for k, v in runs.items()))
    floor_s = [x.seconds for x in runs["floor (same bytes)"]]
    print("  seconds min / median / max, peak memory (PSS) max, per-round ratio to the floor min / median / max")
    for k, rs in runs.items():
        ts = [x.seconds for x in rs]
        print(f"  {k:42} {mmm(ts)} s  {max(x.peak for x in rs) / 2**20:5.0f} MB  "
              f"×floor {mmm([t / f for t, f in zip(ts, floor_s, strict=True)])}")
    return statistics.median(x.seconds for x in runs["cardgen render --jobs 1"]) / tree.cards


# -- incremental -----------------------------------------------------------------------------------------

@dataclass
class Scenario:
    name: str
    commands: list[list[str]]
    edit: Callable[[], Callable[[], None]] | None = None  # makes the change; returns what undoes it
    before: list[str] | None = None  # run untimed just before
    ok: tuple[int, ...] = (0,)
    times: list[float] = field(default_factory=list)
    ones: list[float] = field(default_factory=list)  # the one-card validate run right after
    peaks: list[int] = field(default_factory=list)
    drifted: int = 0


def edit_file(path: Path, old: str, new: str) -> Callable[[], Callable[[], None]]:
    def change() -> Callable[[], None]:
        text = path.read_text("utf-8")
        assert old in text, (path, old)
        path.write_text(text.replace(old, new, 1), "utf-8")

        def undo() -> None:
            path.write_text(text, "utf-8")

        return undo

    return change


def drift_count(out: str) -> int:
    """How many READMEs `check` found drifted (it says "N READMEs differ from the sources")."""
    m = re.search(r"(\d+) READMEs? differs? from the sources", out)
    return int(m.group(1)) if m else 0


def scenarios(work: Path, cardgen: list[str], tree: Tree) -> list[Scenario]:
    fam = tree.middle()
    leaf, risky = tree.plain_leaf(), fam.risky[0]
    check = [*cardgen, "check", "--out", str(work / "rendered"), "cards"]
    leaf_file = str((leaf / "card.yaml").relative_to(work))
    return [
        Scenario("nothing changed", [check]),
        Scenario("plain leaf changed", [check], edit_file(leaf / "card.yaml", "name: ", "name: Changed "), ok=(1,)),
        Scenario("risk-bearing leaf changed (a risk's mitigations)", [check],
                 edit_file(risky / "card.yaml", "mitigations: [M1, M4]", "mitigations: [M1, M2]"), ok=(1,)),
        Scenario(f"base card changed ({len(fam.leaves) + 1} cards)", [check],
                 edit_file(fam.base / "card.yaml", "name: ", "name: Changed "), ok=(1,)),
        Scenario("shared file changed (a citation's title)", [check],
                 edit_file(tree.root / "_shared" / "citations.yaml", "title: The Alpha", "title: A Changed Alpha"),
                 ok=(1,)),
        Scenario("hook pair: validate FILE; check --changed FILE",
                 [[*cardgen, "validate", leaf_file],
                  [*cardgen, "check", "--out", str(work / "rendered"), "--changed", leaf_file, "--", "cards"]],
                 edit_file(leaf / "card.yaml", "name: ", "name: Changed "), ok=(0, 1)),
        Scenario("whole-tree check after a scoped validate", [check], before=[*cardgen, "validate", str(leaf)]),
    ]


def settle(work: Path, sync: list[str], env: dict[str, str]) -> None:
    """Bring the graph back in step after an edit was undone, as a user's next command finds it: a file
    written less than ``stats.MARGIN_NS`` before it is hashed has no kept signature (it may be written
    again in the same tick of the clock), so the run that hashes it cannot vouch for it in the index; wait
    that long, then check again (untimed)."""
    from cardgen.pipeline.stats import MARGIN_NS

    timed(sync, work, env)
    time.sleep(MARGIN_NS / 1e9 + 0.1)
    timed(sync, work, env)


def incremental(work: Path, cardgen: list[str], env: dict[str, str], tree: Tree, rounds: int,
                cold_per_readme: float | None) -> None:
    todo = scenarios(work, cardgen, tree)
    one = [*cardgen, "validate", "--no-cache", str(tree.plain_leaf())]
    sync = [*cardgen, "check", "--out", str(work / "rendered"), "cards"]
    settle(work, sync, env)  # the graph warm
    print(f"\n{tree.cards} cards, incremental (graph warm), {rounds} paired rounds: each scenario, then "
          f"`validate --no-cache` of one leaf ({tree.plain_leaf().name})")
    for r in range(rounds):
        order = todo[r % len(todo):] + todo[:r % len(todo)]
        for s in order:
            undo = s.edit() if s.edit else None
            if s.before:
                timed(s.before, work, env)
            runs = [timed(c, work, env, s.ok) for c in s.commands]
            s.times.append(sum(x.seconds for x in runs))
            s.peaks.append(max(x.peak for x in runs))
            s.drifted = drift_count(runs[-1].out)
            if undo:
                undo()
                settle(work, sync, env)
            s.ones.append(timed(one, work, env).seconds)
        print(f"  round {r + 1} (load {load()}): " + ", ".join(f"{s.name.split(' (')[0]} ×{s.times[-1] / s.ones[-1]:.2f}"
                                                              for s in todo))
    print("  seconds min / median / max; one-card validate --no-cache min / median / max; per-round ratio "
          "min / median / max; peak memory")
    for s in todo:
        ratio = [t / o for t, o in zip(s.times, s.ones, strict=True)]
        print(f"  {s.name:52} {mmm(s.times)} s  one card {mmm(s.ones)} s  ×{mmm(ratio)}  "
              f"{max(s.peaks) / 2**20:4.0f} MB")
    nothing, after = todo[0], todo[-1]
    pair = [a / b for a, b in zip(after.times, nothing.times, strict=True)]
    print(f"  whole-tree check after a scoped validate ÷ nothing changed, same round: ×{mmm(pair)}")
    shared = todo[4]
    per = [(t - n) / max(1, shared.drifted) for t, n in zip(shared.times, nothing.times, strict=True)]
    said = f"; cold render --jobs 1: {cold_per_readme * 1000:.2f} ms per README" if cold_per_readme else ""
    print(f"  shared file: {shared.drifted} READMEs changed; (time - nothing changed's, same round) per README "
          f"{mmm([p * 1000 for p in per])} ms{said}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cards", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", choices=["cold", "incremental"])
    ap.add_argument("--more", action="store_true", help="also the default workers and huggingface_hub, cold")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), Python {sys.version.split()[0]}, "
          f"load {load()}")
    for n in a.cards:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            work = Path(tmp)
            tree = make_tree(work / "cards", n)
            env = {**os.environ, "PYTHONPATH": str(REPO), "CARDGEN_CACHE_DIR": str(work / "cache")}
            cardgen = [sys.executable, "-m", "cardgen"]
            first = timed([*cardgen, "render", "--out", str(work / "rendered"), "cards"], work, env)
            print(f"\n{n} cards generated ({sum(len(f.risky) for f in tree.families)} with a risk matrix); "
                  f"first render {first.seconds:.1f} s")
            per = cold(work, cardgen, env, tree, a.rounds, a.more) if a.only != "incremental" else None
            if a.only != "cold":
                incremental(work, cardgen, env, tree, a.rounds, per)


if __name__ == "__main__":
    main()
