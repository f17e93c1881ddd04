"""`cardgen new`: a card source to start from, for each kind of card, that validates and renders at once.

What only the author knows is written as a visible placeholder (a value with the word TODO), which
`cardgen validate` reports as a warning (CG410) until it is replaced. Derived kinds (gguf, gptq, awq)
extend a base card when ``--extends`` names one in the cards folder.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardgen.commands.base import Command, UsageError
from cardgen.files import atomic_write
from cardgen.report import Report

KINDS = ("base", "chat", "gguf", "gptq", "awq", "classifier", "embedding")

_COMMON = """\
creator: {name: "TODO: who made the model", url: "https://TODO.example"}
language: [en]
license: {id: other, name: todo-choose-a-licence, link: LICENSE}  # or a Hub id: apache-2.0, mit, llama3...
"""

_BODY = {
    "base": """\
name: {name}
description: "TODO: what `{{name}}` is and what it is for, in a sentence or two."
model_type: llama  # TODO: config.json's model_type
parameters: "TODO: 7B"
{common}library_name: transformers
pipeline_tag: text-generation
prompt:
  template: "### User:\\n{{prompt}}\\n\\n### Assistant:\\n"
  placeholders: {{prompt: the user's message}}
  bos: tokenizer  # who adds the BOS token: tokenizer, template or none
usage:
  message: Write me a poem please
  max_new_tokens: 256
""",
    "chat": """\
name: {name}
description: "TODO: what `{{name}}` is and what it is for, in a sentence or two."
model_type: llama  # TODO: config.json's model_type
parameters: "TODO: 7B"
{common}library_name: transformers
pipeline_tag: text-generation
tags: [chat]
prompt:
  chat_template: from_tokenizer  # or the template's text, copied from tokenizer_config.json
  system_prompt: You are a helpful assistant.
usage:
  message: Write me a poem please
  max_new_tokens: 256
""",
    "classifier": """\
name: {name}
description: "TODO: what `{{name}}` classifies, and into which labels."
model_type: bert  # TODO: config.json's model_type
parameters: "TODO: 110M"
{common}library_name: transformers
pipeline_tag: text-classification
usage:
  message: I loved this film, it was great.
# evaluation:   # huggingface_hub's EvalResult fields; the model-index is computed from them
#   - {{task_type: text-classification, dataset_type: stanfordnlp/sst2, dataset_name: SST-2, dataset_split: validation,
#      metric_type: accuracy, metric_value: 0.91}}
# co2_eq_emissions: {{emissions: 120, source: CodeCarbon, training_type: fine-tuning}}
""",
    "embedding": """\
name: {name}
description: "TODO: what `{{name}}` embeds, and what the vectors are good for."
model_type: bert  # TODO: config.json's model_type
parameters: "TODO: 22M"
{common}library_name: sentence-transformers
pipeline_tag: sentence-similarity
tags: [sentence-transformers]
usage:
  sentences: [The weather is lovely today., "It's so sunny outside!", He drove to the stadium.]
""",
}

_DERIVED = {
    "gguf": """\
quantization:
  method: GGUF
  files:
    - {{file: {file}.Q4_K_M.gguf, quant_method: Q4_K_M, bits: 4, size: "TODO: 4.1 GB", max_ram: "TODO: 6.6 GB", use_case: "medium, balanced quality - recommended"}}
    - {{file: {file}.Q8_0.gguf, quant_method: Q8_0, bits: 8, size: "TODO: 7.2 GB", max_ram: "TODO: 9.7 GB", use_case: "very large, extremely low quality loss"}}
usage:
  file: {file}.Q4_K_M.gguf
""",
    "gptq": """\
quantization:
  method: GPTQ
  variants:
    - {{branch: main, bits: 4, group_size: 128, act_order: true, damp_percent: 0.1, dataset: wikitext, seq_len: 4096, size: "TODO: 3.9 GB", description: "4-bit, with Act Order and group size 128g."}}
usage:
  dtype: null
  model_kwargs: {{device_map: auto, revision: main}}
""",
    "awq": """\
quantization:
  method: AWQ
  variants:
    - {{bits: 4, group_size: 128, version: GEMM, size: "TODO: 3.9 GB", description: "4-bit AWQ, GEMM kernels."}}
usage:
  dtype: float16
  model_kwargs: {{device_map: auto}}
""",
}


#: what every card says and only its author knows: what the model is for, and where it falls short
_SECTIONS = """\
sections:
  - id: intended-use
    heading: Intended use
    after: description
    body: "TODO: what {what} is meant for and by whom, and the uses it is not meant for."
  - id: limitations
    heading: Limitations
    after: intended-use
    body: "TODO: where {what} falls short, its biases, what a user should check{derived}."
"""


def _sections(what: str, derived: bool = False) -> str:
    return _SECTIONS.format(what=what, derived=("; what quantising cost against the original model"
                                                if derived else ""))


def scaffold(repo_id: str, kind: str, extends: str | None = None) -> str:
    """The card source text of a new card of ``kind``."""
    owner, name = repo_id.split("/")
    if kind in _BODY:
        head = f"repo_id: {repo_id}\n"
        return head + _BODY[kind].format(name=name, common=_COMMON) + _sections("`{name}`")
    body = _DERIVED[kind].format(file=name.removesuffix(f"-{kind.upper()}")) + _sections("the model", True)
    title = f"title: {name}\n"
    if extends:  # the card body links the original model (its model details name what it is quantised from)
        base = f"extends: {extends}\nbase_model_relation: quantized\n"
        description = (f"description: \"TODO: what these {kind.upper()} files of [{extends}](https://huggingface.co/"
                       f"{extends}) are, and what they are for.\"\n")
        return f"repo_id: {repo_id}\n{base}{title}{description}" + body
    return (f"repo_id: {repo_id}\nbase_model: TODO-owner/TODO-base-model  # or `extends:` a card in cards/\n"
            f"base_model_relation: quantized\n{title}description: \"TODO: which model these files quantise.\"\n"
            + _COMMON + "pipeline_tag: text-generation\n" + body)


def write_new(cards: Path, repo_id: str, kind: str, extends: str | None, force: bool,
              split: Callable[[str, Path], tuple[str, str]] | None = None) -> Path:
    """Write the card; with ``split`` (`--from`), what the model folder says goes to `folder.yaml` instead."""
    folder = cards / repo_id
    target = folder / "card.yaml"
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists; pass --force to replace it")
    schema = Path(os.path.relpath(cards.parent / "schemas" / "card.schema.json", folder))
    text, facts = scaffold(repo_id, kind, extends), None
    if split is not None:
        text, facts = split(text, folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(target, f"# yaml-language-server: $schema={schema.as_posix()}\n" + text)
    if facts is not None:
        atomic_write(folder / "folder.yaml", facts)
    return target


@dataclass(frozen=True)
class Written:
    repo_id: str
    kind: str
    card: str


@dataclass(frozen=True)
class NewOptions:
    repo_id: str
    kind: str | None = None
    extends: str | None = None
    cards: Path = Path("cards")
    force: bool = False
    from_dir: Path | None = None


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("repo_id", metavar="OWNER/NAME")
    p.add_argument("--kind", choices=KINDS, help="the kind of card (default: base; with --from, what the folder holds)")
    p.add_argument("--extends", metavar="OWNER/NAME", help="the base card, in the cards folder (gguf, gptq, awq)")
    p.add_argument("--cards", type=Path, default=Path("cards"), help="the cards folder (default: cards)")
    p.add_argument("--force", action="store_true", help="replace an existing card.yaml")
    p.add_argument("--from", dest="from_dir", type=Path, metavar="DIR",
                   help="the model's folder: what it says (architecture, size, context length, chat template, "
                        "files) is written to folder.yaml, which `cardgen sync` keeps up to date")


def options(args: argparse.Namespace, common: dict[str, Any]) -> NewOptions:
    return NewOptions(args.repo_id, args.kind, args.extends, args.cards, args.force, args.from_dir)


def run(opts: NewOptions) -> tuple[Report, int]:
    from cardgen import hubspec

    for what, repo in (("repo id", opts.repo_id), ("--extends", opts.extends)):
        if repo is not None and (problem := hubspec.repo_id_problem(repo)):
            raise UsageError(f"{what}: {problem}")
    if opts.extends and not (opts.cards / opts.extends).is_dir():
        raise UsageError(f"--extends {opts.extends}: no card folder {opts.cards / opts.extends}")
    if opts.extends and opts.kind not in ("gguf", "gptq", "awq") and not (opts.from_dir and opts.kind is None):
        raise UsageError(f"--extends goes with a derived kind (gguf, gptq, awq), not {opts.kind or 'base'}")
    if opts.from_dir is not None and not opts.from_dir.is_dir():
        raise UsageError(f"--from {opts.from_dir}: no such folder")
    kind, split, report = opts.kind or "base", None, Report("new", checked="1 card written")
    if opts.from_dir is not None:
        from cardgen.folder.write import from_folder

        kind, split, report.diagnostics = from_folder(opts.from_dir, opts.kind)
    try:
        target = write_new(opts.cards, opts.repo_id, kind, opts.extends, opts.force, split)
    except FileExistsError as e:
        raise UsageError(str(e)) from None
    report.lines = [f"written   {target}"] + ([f"written   {target.parent / 'folder.yaml'}"] if split else [])
    report.notes = [f"next: replace each TODO (`cardgen validate {target.parent}` lists them), then "
                    f"`cardgen render {target.parent}`"]
    report.results = [Written(opts.repo_id, kind, str(target))]
    return report, 0


COMMANDS = (Command("new", "write a card source to start from, for a kind of card",
                    "cardgen new acme/tiny-chat --kind chat   # then: cardgen new acme/tiny-chat-GGUF --kind gguf "
                    "--extends acme/tiny-chat", arguments, options, run, paths=False),)
