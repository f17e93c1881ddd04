"""Front matter, in one place: computed from a card, serialised in a stable order, read back.

``compute`` gives the metadata a card's README carries; ``dump`` writes it as the YAML block;
``split`` separates a README into its YAML block and body with huggingface_hub's own
``REGEX_YAML_BLOCK`` (see ``yaml_block``), keeping the line offset so that diagnostics point into
the README.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from cardgen.card import Card

KEY_ORDER = (
    "language license license_name license_link library_name pipeline_tag tags datasets metrics "
    "base_model base_model_relation new_version inference widget co2_eq_emissions model-index model_creator model_name "
    "model_type prompt_template quantized_by"
).split()

def compute(card: Card) -> dict[str, Any]:
    """The README front matter of a card, as a plain dict in KEY_ORDER (extra keys after, sorted): what
    its typed fields produce, then the `metadata:` pass-through's other keys."""
    return merge(card, typed(card))


def merge(card: Card, produced: dict[str, Any]) -> dict[str, Any]:
    """The typed fields' keys, then the pass-through's others: a key a typed field produces is refused
    (CG221), never overridden."""
    meta = dict(produced)
    for k, v in (card.model.metadata or {}).items():
        meta.setdefault(k, v)
    return order(meta)


def typed(card: Card) -> dict[str, Any]:
    """The front-matter keys the card's typed fields produce (without the pass-through)."""
    m = card.model
    meta: dict[str, Any] = {}
    if m.language:
        meta["language"] = m.language if isinstance(m.language, str) else list(m.language)  # as the card writes it
    meta.update(_license(card))
    if card.library_name:
        meta["library_name"] = card.library_name
    if m.pipeline_tag:
        meta["pipeline_tag"] = m.pipeline_tag
    if m.tags:
        meta["tags"] = list(m.tags)
    ds = _dataset_ids(card)
    if ds:
        meta["datasets"] = ds
    meta.update(_lineage(card))
    if m.inference is not None:
        meta["inference"] = m.inference
    if m.widget:
        meta["widget"] = [w.model_dump(exclude_none=True) for w in m.widget]
    if m.co2_eq_emissions is not None:
        meta["co2_eq_emissions"] = m.co2_eq_emissions.model_dump(exclude_none=True)
    if m.evaluation:
        meta["model-index"] = model_index(card)
    if m.base_model_relation == "quantized" and card.base is not None:
        meta.update(_quantized(card, card.base))
    return meta


def _license(card: Card) -> dict[str, Any]:
    """The licence: its id, and its name and link where it gives them (`{repo_id}` in the link filled)."""
    from cardgen.entries import License

    lic: License | None = card.license.value if card.license else None
    if not lic:
        return {}
    meta: dict[str, Any] = {"license": lic.id}
    if lic.name:
        meta["license_name"] = lic.name
    if lic.link:
        meta["license_link"] = lic.link.replace("{repo_id}", card.repo_id)
    return meta


def _dataset_ids(card: Card) -> list[str]:
    """The card's datasets, then those its training listing names (the Hub's `datasets` are those
    trained on): their ids, once each, those with `metadata: false` left out."""
    from cardgen.entries import Dataset

    listed = [r.value for r in card.datasets if isinstance(r.value, Dataset)] + card.training_datasets
    return list(dict.fromkeys(d.id for d in listed if d.id and d.metadata))


def _lineage(card: Card) -> dict[str, Any]:
    """Where the model comes from: its base model(s), how it derives from them, and its successor."""
    m = card.model
    meta: dict[str, Any] = {}
    base = m.base_model or m.extends
    if base:
        meta["base_model"] = base if isinstance(base, str) else list(base)
    if m.base_model_relation:
        meta["base_model_relation"] = m.base_model_relation
    if m.new_version:
        meta["new_version"] = m.new_version
    return meta


def _quantized(card: Card, b: Card) -> dict[str, Any]:
    """The keys of a quantised derivative (TheBloke's convention): the base's creator and name, the
    model type, the prompt template, who quantised it."""
    m = card.model
    meta: dict[str, Any] = {}
    if b.creator:
        meta["model_creator"] = b.creator.value.name
    meta["model_name"] = b.repo_name
    if m.model_type:
        meta["model_type"] = m.model_type
    if m.prompt and m.prompt.template is not None:
        meta["prompt_template"] = m.prompt.template
    if card.creator:
        meta["quantized_by"] = card.creator.value.name
    return meta


def order(meta: dict[str, Any]) -> dict[str, Any]:
    known = [k for k in KEY_ORDER if k in meta]
    rest = sorted(k for k in meta if k not in KEY_ORDER)
    return {k: meta[k] for k in known + rest}


def model_index(card: Card) -> list[dict[str, Any]]:
    """The `model-index`, built by huggingface_hub's own ``eval_results_to_model_index`` from its
    ``EvalResult``s: metrics of one task and dataset grouped into one result, as the Hub expects."""
    from huggingface_hub.repocard_data import EvalResult, eval_results_to_model_index

    from cardgen.schema import ENTRY_ONLY

    results = [EvalResult(**r.model_dump(exclude=set(ENTRY_ONLY))) for r in card.model.evaluation or []]
    return eval_results_to_model_index(card.repo_name, results)


_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter when present


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    def ignore_aliases(self, data: Any) -> bool:  # front matter spells every value out: no &id001 / *id001
        return True


def _str(dumper: yaml.SafeDumper, s: str) -> yaml.ScalarNode:
    style = "|" if "\n" in s and not s.endswith(" ") and "\t" not in s else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style=style)


_Dumper.add_representer(str, _str)


def dump(meta: dict[str, Any]) -> str:
    """The YAML block (without the `---` lines), deterministic.

    A block mapping is its entries one after another, so each top-level entry is emitted on its own
    and remembered: an organisation's cards repeat most of them (licence, datasets, tags...).
    """
    return "".join(_dump_entry(k, v) for k, v in meta.items())


_ENTRIES: dict[tuple[str, str], str] = {}


def _dump_entry(key: str, value: Any) -> str:
    # the repr is the cache key: it tells 1 from 1.0, True and "1", and lists from dicts
    memo = (key, repr(value))
    text = _ENTRIES.get(memo)
    if text is None:
        if len(_ENTRIES) > 8192:
            _ENTRIES.clear()
        text = _ENTRIES[memo] = yaml.dump({key: value}, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                                          width=10_000, default_flow_style=False)
    return text



@lru_cache(maxsize=1)
def yaml_block() -> re.Pattern[str]:
    """huggingface_hub's own ``REGEX_YAML_BLOCK``, the rule by which the Hub splits a README.

    Importing ``huggingface_hub.repocard`` costs a quarter of a second (it pulls in the HTTP client),
    more than validating dozens of READMEs; so the pattern is read from that module's installed source
    without running it, and ``tests/test_validate.py`` pins it to the imported object's pattern. If the
    source no longer has it as a literal, the module is imported after all.
    """
    spec = importlib.util.find_spec("huggingface_hub")
    if spec is not None and spec.origin:
        try:
            tree = ast.parse(Path(spec.origin).with_name("repocard.py").read_text("utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            tree = ast.Module(body=[], type_ignores=[])
        for node in tree.body:
            if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "REGEX_YAML_BLOCK" for t in node.targets)
                    and isinstance(node.value, ast.Call) and len(node.value.args) == 1
                    and isinstance(node.value.args[0], ast.Constant) and isinstance(node.value.args[0].value, str)
                    and not node.value.keywords):
                return re.compile(str(node.value.args[0].value))
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    return REGEX_YAML_BLOCK


#: a line end in a README as CommonMark (markdown-it-py) and YAML count them: `\n`, `\r\n`, or a lone `\r`
LINE_END = re.compile(r"\r\n?|\n")


def lines(text: str) -> list[str]:
    """A README's lines, split where CommonMark ends a line (a lone `\r` too), without their ends."""
    return LINE_END.split(text) if "\r" in text else text.split("\n")


def line_count(text: str) -> int:
    """How many line ends ``text`` holds, counted as ``lines`` counts them."""
    return len(LINE_END.findall(text))


def split(text: str) -> tuple[str | None, str, int]:
    """(yaml_text or None, body, line number of the YAML's first line in the README), as
    ``huggingface_hub.ModelCard`` splits a README."""
    m = yaml_block().search(text)
    if not m:
        return None, text, 0
    first_line = line_count(m.group(1)) + 1
    return m.group(2), text[m.end():], first_line


def mapping(block: str | None) -> dict[str, Any]:
    """A front-matter block read as the mapping it should be; empty when there is none, it is not YAML,
    or it is not a mapping (for comparing and showing, not for checking: the rules say what is wrong)."""
    from cardgen.loading.yamlpos import plain

    data, _ = plain(block or "", "front matter")
    return data if isinstance(data, dict) else {}
