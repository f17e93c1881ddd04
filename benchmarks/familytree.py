"""The family tree the scale benchmarks generate: organisations of 25 cards, each a base card and its
family (fine-tunes that extend it, GPTQ and GGUF repackagings that extend and embed it), every card with
its own prose, tables and variants, one leaf in ten with a risk matrix (two or three per family), and
shared citations, licences and a mitigation catalogue in `_shared/`.

    from familytree import make_tree; tree = make_tree(Path("cards"), 10000)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

WORDS = (
    "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega river stone cloud maple cedar "
    "falcon otter raven tiger lotus ember frost quartz amber cobalt violet crimson harbor meadow summit "
    "lantern signal vector lattice prism orbit"
).split()
LICENSES = ["apache-2.0", "mit", "llama2", "cc-by-4.0", "cc-by-nc-4.0", "bsd-3-clause", "openrail", "gpl-3.0"]
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


@dataclass
class Family:
    base: Path  # the base card's folder
    leaves: list[Path] = field(default_factory=list)  # the folders of the cards that extend it
    risky: list[Path] = field(default_factory=list)  # those of its leaves that carry a risk matrix


@dataclass
class Tree:
    root: Path
    cards: int
    families: list[Family]

    def middle(self) -> Family:
        """A family in the middle of the tree, with a plain leaf and a risk-bearing one."""
        ok = [f for f in self.families if f.risky and len(f.leaves) > len(f.risky)]
        return ok[len(ok) // 2]

    def plain_leaf(self) -> Path:
        f = self.middle()
        return next(p for p in f.leaves if p not in f.risky)


def make_tree(root: Path, n: int) -> Tree:
    """Write ``n`` cards under ``root``, in families of ``FAMILY``."""
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
        family = Family(root / owner / base)
        for j in range(i + 1, min(i + FAMILY, n)):
            name, text = leaf_card(j, owner, base)
            (root / owner / name).mkdir()
            (root / owner / name / "card.yaml").write_text(text, "utf-8")
            family.leaves.append(root / owner / name)
            if "risk_assessment:" in text:
                family.risky.append(root / owner / name)
        families.append(family)
        i += FAMILY
    return Tree(root, n, families)
