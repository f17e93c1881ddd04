"""Rules on what a card documents for its kind: the snippet style against the task, the inputs a
style needs, who adds BOS, the chat template, the `metadata:` pass-through against the typed fields,
and typed fields that the card's template would not show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen import hubspec
from cardgen.diagnostics import Where
from cardgen.kinds import chat, tasks
from cardgen.rules.registry import card_rule
from cardgen.sections import SECTIONS

if TYPE_CHECKING:
    from cardgen.card import Card

Found = Iterator[tuple[Where, str]]

#: front-matter keys that a typed field writes: never through `metadata:`
TYPED_KEYS = {
    "language": "language", "license": "license", "license_name": "license (`name`)",
    "license_link": "license (`link`)", "library_name": "library_name", "pipeline_tag": "pipeline_tag",
    "tags": "tags", "datasets": "datasets", "base_model": "base_model (or `extends`)",
    "base_model_relation": "base_model_relation", "new_version": "new_version", "inference": "inference",
    "widget": "widget", "co2_eq_emissions": "co2_eq_emissions", "model-index": "evaluation",
}
#: keys computed for a quantised derivative (TheBloke's convention), and what they come from
COMPUTED_KEYS = {"model_creator": "the base card's `creator`", "model_name": "the base card's repo name",
                 "model_type": "`model_type`", "prompt_template": "`prompt.template`",
                 "quantized_by": "`creator`"}

#: common BOS token texts, for templates that write one
BOS_TEXTS = ("<s>", "<bos>", "<|begin_of_text|>", "<|startoftext|>", "[BOS]", "<|im_start|>bos")


@card_rule("CG404", "usage snippet style cannot serve the card's task")
def style_serves_task(card: Card) -> Found:
    m = card.model
    if m.usage is None or m.usage.none is not None:
        return
    style = tasks.style_of(m)
    tag = m.pipeline_tag

    def where() -> Where:  # positions are built only for a finding
        return card.loc("usage", "style") if m.usage and m.usage.style else card.loc(
            "pipeline_tag") if tag else card.loc("usage")

    if not style:
        yield where(), (f"no snippet style of cardgen's serves pipeline_tag {tag!r}; name a snippet template of "
                        "your own in `usage.style` (templates/snippets/<style>.py.j2), or leave `usage` out. Styles: "
                        f"{', '.join(sorted(tasks.STYLES))}")
        return
    spec = tasks.STYLES.get(style)
    if spec is None or tag is None or tag not in hubspec.pipeline_tags():
        return
    if tag not in spec.tasks:
        fit = tasks.BY_TASK.get(tag)
        if not (m.usage.style and m.usage.style != "default"):  # the style follows the card's kind: the tag is wrong
            why = ("a GGUF card's" if style == "llama-cpp" and m.quantization is not None else
                   f"library_name {m.library_name!r}'s" if m.library_name in tasks.BY_LIBRARY else "the card's")
            fix = "text-generation" if "text-generation" in spec.tasks else min(spec.tasks)
            yield where(), (f"{card.repo_id}: {why} snippet style {style!r} writes a {'/'.join(sorted(spec.tasks))} "
                            f"snippet, but pipeline_tag is {tag!r}: set `pipeline_tag: {fix}`")
            return
        yield where(), (f"usage style {style!r} writes a {'/'.join(sorted(spec.tasks))} snippet, but the card's "
                      f"pipeline_tag is {tag!r}: " + (f"set `usage.style: {fit}` or leave `style` out to follow "
                                                      "pipeline_tag" if fit else "no style of cardgen's serves it"))


#: the tasks a chat model is filed under: its chat template formats a conversation, which it continues
CHAT_TASKS = frozenset("text-generation image-text-to-text audio-text-to-text video-text-to-text any-to-any".split())
#: the widget inputs that belong to some tasks only (`text` and `src` serve many), and those tasks
WIDGET_TASKS = {"messages": CHAT_TASKS, "source_sentence": frozenset({"sentence-similarity"}),
                "sentences": frozenset({"sentence-similarity"}),
                "candidate_labels": frozenset({"zero-shot-classification", "zero-shot-image-classification"}),
                "context": frozenset({"question-answering", "table-question-answering",
                                      "document-question-answering"})}


@card_rule("CG411", "pipeline_tag contradicts what the card documents",
           rule="the Hub files a model, and runs its widget, by pipeline_tag: a chat model tagged "
                "text-classification is filed and served as a classifier")
def task_fits_kind(card: Card) -> Found:
    """A pipeline tag that what the card documents contradicts: a chat template (unless `usage.style` names
    the snippet the author means, as a reward model's card does), a widget example whose inputs serve other
    tasks. Reported at the card whose own source writes the tag or the contradicting field."""
    m = card.model
    tag = m.pipeline_tag
    if tag is None or tag not in hubspec.pipeline_tags():
        return  # no tag, or one the Hub does not know (CG203)
    own = card.origin.get("pipeline_tag", card.src) is card.src
    found: list[tuple[str, str, str]] = []  # (what, its field, the fix)
    p = m.prompt
    if p is not None and p.chat_template is not None and tag not in CHAT_TASKS and not (m.usage and m.usage.style):
        found.append(("its chat template (`prompt.chat_template`) makes it a chat model", "prompt", "text-generation"))
    for i, w in enumerate(m.widget or []):
        keys = [k for k in WIDGET_TASKS if getattr(w, k)]
        serves = frozenset().union(*(WIDGET_TASKS[k] for k in keys)) if keys else frozenset()
        if keys and tag not in serves:
            fix = "text-generation" if "messages" in keys else sorted(serves)[0]
            found.append((f"its widget example {i + 1} (`{'`, `'.join(keys)}`) is an input for "
                          f"{', '.join(sorted(serves))}", "widget", fix))
            break
    for what, f, fix in found[:1]:
        if not (own or card.origin.get(f, card.src) is card.src):
            return  # both inherited: the base card that writes them reports it
        also = (" (a classifier that formats its input with a chat template, as a reward model does, names its "
                "snippet: `usage.style: text-classification`)") if f == "prompt" else ""
        yield card.loc("pipeline_tag"), (f"pipeline_tag {tag!r} contradicts the card: {what}; set "
                                         f"`pipeline_tag: {fix}`{also}")


@card_rule("CG405", "no template for the usage snippet style")
def style_template_exists(card: Card) -> Found:
    m = card.model
    if m.usage is None or m.usage.none is not None:
        return
    style = tasks.style_of(m)
    if style and not any((Path(folder) / "snippets" / f"{style}.py.j2").is_file() for folder in card.templates):
        yield card.loc("usage", "style"), (f"no snippet template `snippets/{style}.py.j2` in the card's templates "
                                           f"or cardgen's{hubspec.suggest(style, set(tasks.STYLES) - {style})}")


@card_rule("CG406", "usage lacks an input its snippet style needs")
def style_inputs(card: Card) -> Found:
    m = card.model
    u = m.usage
    if u is None or u.none is not None:
        return
    style = tasks.style_of(m)
    if style == "fill-mask" and u.message.count("{mask}") != 1:
        yield card.loc("usage", "message") if "message" in u.model_fields_set else card.loc("usage"), (
            "a fill-mask snippet needs `usage.message` with exactly one `{mask}` where the model fills in a word "
            "(the snippet puts the tokenizer's own mask token there)")
    if style == "question-answering" and not u.context:
        yield card.loc("usage"), ("a question-answering snippet needs `usage.context`, the passage the answer to "
                                  "`usage.message` is found in")
    if style == "chat" and (m.prompt is None or m.prompt.chat_template is None) and not card.base:
        yield card.loc("usage", "style") if u.style else card.loc("usage"), (
            "the chat snippet formats with the tokenizer's chat template: document it in `prompt.chat_template` "
            "(its text, or `from_tokenizer`)")


@card_rule("CG407", "the model would get two BOS tokens")
def double_bos(card: Card) -> Found:
    p = card.model.prompt
    if p is None or p.template is None or p.bos == "template":
        return
    bos = p.bos_token or next((b for b in BOS_TEXTS if p.template.startswith(b)), None)
    if bos and p.template.startswith(bos):
        who = "`bos: tokenizer` says the tokenizer adds it" if p.bos == "tokenizer" else (
            "the snippet's tokenizer call adds BOS too (as Llama, Mistral and Gemma tokenizers do)")
        yield card.loc("prompt", "template"), (
            f"the template starts with {bos!r} and {who}: the model is fed two. Remove {bos!r} from the template, "
            "or set `prompt.bos: template` so that the prompt is encoded with add_special_tokens=False")


@card_rule("CG408", "the chat template does not render")
def chat_template_renders(card: Card) -> Found:
    p = card.model.prompt
    if p is None or p.chat_template in (None, chat.FROM_TOKENIZER):
        return
    assert p.chat_template is not None
    conversation = chat.shown_conversation(card.model)
    try:
        chat.render(p.chat_template, conversation, p.bos_token, p.eos_token,
                    add_generation_prompt=conversation[-1]["role"] != "assistant")
    except chat.ChatTemplateError as e:
        yield card.loc("prompt", "chat_template"), str(e)


@card_rule("CG221", "metadata pass-through writes a key a typed field produces",
           rule="one value per key: the front matter and the body are computed from the same typed field")
def metadata_overrides(card: Card) -> Found:
    extra = card.model.metadata or {}
    for key in extra:
        if key in TYPED_KEYS:
            yield card.key_loc("metadata", key), (
                f"`metadata: {key}` would override the typed field: write it as `{TYPED_KEYS[key]}:` (the body is "
                "computed from the typed field, and the two would disagree)")
        elif key in card.produced:
            yield card.key_loc("metadata", key), (f"`metadata: {key}` would override the value computed from "
                          f"{COMPUTED_KEYS.get(key, 'a typed field')}: remove it from `metadata`")


@card_rule("CG310", "typed field the card's template does not show")
def fields_shown(card: Card) -> Found:
    """A field the card's own source sets must reach the README: its section's slot must be placed
    (or the field must reach the front matter)."""
    from cardgen.rules.metadata import SOURCE_FIELD

    own = card.src.data if isinstance(card.src.data, dict) else {}
    in_front_matter = {SOURCE_FIELD[k] for k in card.produced if k in SOURCE_FIELD} | {"extends"}
    for spec in SECTIONS:
        if spec.name in card.slots:
            continue
        for f in spec.fields:
            if f in own and f not in in_front_matter and getattr(card.model, f) not in (None, [], ""):
                yield card.loc(f), (f"`{f}` is shown in the {spec.title} section, which the card's card.md.j2 does "
                                    f"not place (slot {spec.name!r}): add `{{{{ slot(\"{spec.name}\") }}}}` to it, or "
                                    "remove the field")


@card_rule("CG409", "field that the card's kind does not use")
def unused_by_kind(card: Card) -> Found:
    """A field is shown or refused: one that nothing of this card's kind would show is refused, with why.
    Five checks, in this order: the usage inputs its snippet style takes, the prompt fields its
    template and chat template show, the dataset details the body shows, the calibration datasets', and
    the training headings that head nothing."""
    yield from _usage_inputs_unused(card)
    yield from _prompt_fields_unused(card)
    yield from _dataset_details_unused(card)
    yield from _calibration_details_unused(card)
    yield from _training_headings_unused(card)


def _usage_inputs_unused(card: Card) -> Found:
    """`usage.context`, `sentences` and `file` where the card's snippet style takes none of them."""
    m = card.model
    u = m.usage
    if u is None or u.none is not None:
        return
    style = tasks.style_of(m)
    needs = {"context": "question-answering", "sentences": "feature-extraction or sentence-transformers",
             "file": "llama-cpp (GGUF)"}
    used = set(tasks.STYLES[style].needs) if style in tasks.STYLES else set(needs)
    if style == "llama-cpp" or style not in tasks.STYLES:
        used.add("file")
    for f, styles in needs.items():
        if f in u.model_fields_set and f not in used:
            yield card.loc("usage", f), (f"`usage.{f}` is only used by the {styles} snippet style, and this "
                                         f"card's is {style!r}: remove it, or set the style that uses it")


def _prompt_fields_unused(card: Card) -> Found:
    """Prompt fields that only a raw template, its shown example or a chat template's text shows."""
    p = card.model.prompt
    if p is None:
        return
    if p.template is None and p.chat_template_differs is not None:
        yield card.loc("prompt", "chat_template_differs"), ("`prompt.chat_template_differs` explains how a raw "
                                                           "`template` differs from the chat template: this card "
                                                           "has no raw template; remove it")
    if p.template is None or p.show != "example":
        for f in ("example", "example_response"):
            if f in p.model_fields_set:
                yield card.loc("prompt", f), (f"`prompt.{f}` is shown only with `show: example` and a raw "
                                              "`template`: remove it, or show the example")
    if p.chat_template is None or p.chat_template == chat.FROM_TOKENIZER:
        if p.chat_template is None and "conversation" in p.model_fields_set:
            yield card.loc("prompt", "conversation"), ("`prompt.conversation` is shown with a chat template: "
                                                       "give `prompt.chat_template`, or remove it")
        for f in ("eos_token",) + (() if p.bos else ("bos_token",)):
            if f in p.model_fields_set:
                yield card.loc("prompt", f), (f"`prompt.{f}` fills the chat template's example; without a chat "
                                              "template text" + (" or `bos`" if f == "bos_token" else "")
                                              + " nothing shows it: remove it")


def _dataset_details_unused(card: Card) -> Found:
    """Datasets, or their details, that neither the front matter nor the body would show: one listed
    in `datasets` with `metadata: false`, a training dataset's id, the details written in `datasets`."""
    from cardgen.entries import Dataset

    for i, ref in enumerate(card.datasets):
        d = ref.value
        if getattr(d, "metadata", True) is False and ref.path[:1] == ("datasets",):
            yield ref.pos("metadata"), (f"dataset {d.name or d.id or i!r} is listed in `datasets` (which only feeds "
                                        "the front matter) with `metadata: false`: it would be shown nowhere; list it "
                                        "in a training listing, or remove it")
    t = card.training.value if card.training else None
    for i, d in enumerate(card.training_datasets):
        if d.id and d.name and d.url and not d.metadata and card.training and t is not None and t.datasets:
            yield card.training.pos("datasets", "items", i), (
                f"dataset {d.name!r}: its `id` is shown nowhere (the body links `name` to `url`, and `metadata: "
                "false` keeps it out of the front matter): remove the id, or let the front matter list it")
    shown = {"name", "url", "description", "size"}
    for i, d in enumerate(card.model.datasets or []):
        if isinstance(d, Dataset):
            for f in sorted(shown & d.model_fields_set):
                yield card.loc("datasets", i, f), (
                    f"`datasets[{i}].{f}` is shown nowhere: `datasets` feeds the front matter's ids; the body shows a "
                    "dataset's details in a training listing (`training.datasets`) or from `cards/_shared/`: move "
                    "it there, or remove the field")


def _calibration_details_unused(card: Card) -> Found:
    """A quantised variant's calibration dataset details: its table shows only the name and link."""
    from cardgen.entries import Dataset

    q = card.model.quantization
    for i, v in enumerate(getattr(q, "variants", None) or []):
        if isinstance(v.dataset, Dataset):
            for f in sorted({"description", "size", "metadata"} & v.dataset.model_fields_set):
                yield card.loc("quantization", "variants", i, "dataset", f), (
                    f"the variants table shows a calibration dataset's name and link only: `dataset.{f}` would be "
                    "shown nowhere; remove it")


def _training_headings_unused(card: Card) -> Found:
    """`training.dataset_heading` without datasets, `procedure_heading` without a procedure: a heading the
    body shows only above what it heads."""
    ref = card.training
    t = ref.value if ref else None
    if ref is None or t is None:
        return
    heads = {"dataset_heading": (("dataset_text", "datasets"), "`dataset_text` or `datasets`"),
             "procedure_heading": (("procedure", "precision", "optimizer", "hyperparameters"),
                                   "`procedure`, `precision`, `optimizer` or `hyperparameters`")}
    for f, (parts, named) in heads.items():
        members = f == "procedure_heading" and any(getattr(m, "hyperparameters", None) for m in card.members)
        if f in t.model_fields_set and not members and all(getattr(t, p) is None for p in parts):
            yield ref.pos(f), (f"`training.{f}` heads {named}, and this card gives none of them: it would be "
                               "shown nowhere; remove it, or write what it heads")


_TODO = re.compile(r"(?i)\btodo\b")


@card_rule("CG410", "placeholder left", "warning", rule="cardgen new writes TODO where only the author knows")
def placeholders_left(card: Card) -> Found:
    """Every string of the card's own sources that still says TODO."""

    def walk(v: object, path: tuple) -> Iterator[tuple]:
        if isinstance(v, str):
            if _TODO.search(v):
                yield path
        elif isinstance(v, dict):
            for k, x in v.items():
                yield from walk(x, (*path, k))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                yield from walk(x, (*path, i))

    texts = [d.text for d in card.src.docs]
    # (the regex only where the lowered text says todo: it costs ten times the test)
    if texts and all(t is not None and "\\" not in t and ("todo" not in t.lower() or not _TODO.search(t))
                     for t in texts):
        return  # no escape in the files, so every string of them is in their text, and none says TODO
    data = card.src.data if isinstance(card.src.data, dict) else {}
    raw = data.get("sections")
    sections: list[Any] = raw if isinstance(raw, list) else []
    kept = {("sections", i, "body") for i, s in enumerate(sections) if isinstance(s, dict) and s.get("verbatim")}
    for path in walk(data, ()):
        if path[:3] in kept:  # an author's own text, imported as written: its TODOs are theirs
            continue
        yield card.src.pos(path), f"placeholder left in `{'.'.join(map(str, path))}`: replace the TODO"


@card_rule("CG804", "widget example key cardgen does not type", "warning",
           rule="the Hub reads a widget example's keys as it finds them: one cardgen does not type is kept as written, "
                "and named in case it is a typo")
def widget_keys(card: Card) -> Found:
    for i, example in enumerate(card.model.widget or []):
        for key in example.model_extra or {}:
            yield card.key_loc("widget", i, key), (f"widget example key `{key}` is not one cardgen types: kept in the "
                                                  "front matter as written (a typo of one it types?)")
