"""Snippet styles, declared once: which task each serves, how the smoke test loads the model.

A card's usage snippet is `templates/snippets/<style>.py.j2`. Its style follows the card's
`pipeline_tag` and `library_name` unless `usage.style` names one; a style declared here that cannot
serve the card's task is a validation error (CG404). An organisation may add styles of its own (a
template under its `_templates/snippets/`); those are not declared here and are not task-checked.

Adding a task: a ``Style`` here, its snippet template, and the smoke test's loader (``smoke.py``)
if it needs one the existing styles do not use.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cardgen import hubspec

if TYPE_CHECKING:
    from cardgen.schema import CardSource


@dataclass(frozen=True)
class Style:
    name: str
    tasks: frozenset[str]  # the pipeline tags it serves
    auto_class: str  # the transformers class the snippet loads the model with ("" for other libraries)
    generates: bool = False  # the snippet calls `generate()` (a generation config, a dtype by default)
    library: str = "transformers"  # the library the snippet imports
    needs: tuple[str, ...] = ()  # `usage` fields the style reads beyond `message`


def _s(name: str, tasks: str, auto: str, **kw: object) -> Style:
    return Style(name, frozenset(tasks.split()), auto, **kw)  # type: ignore[arg-type]


STYLES: dict[str, Style] = {s.name: s for s in (
    _s("causal", "text-generation", "AutoModelForCausalLM", generates=True),
    _s("chat", "text-generation image-text-to-text", "AutoModelForCausalLM", generates=True),
    _s("gptq", "text-generation", "AutoModelForCausalLM", generates=True),
    _s("seq2seq", "text2text-generation summarization translation", "AutoModelForSeq2SeqLM", generates=True),
    _s("text-classification", "text-classification", "AutoModelForSequenceClassification"),
    _s("token-classification", "token-classification", "AutoModelForTokenClassification"),
    _s("fill-mask", "fill-mask", "AutoModelForMaskedLM"),
    _s("question-answering", "question-answering", "AutoModelForQuestionAnswering", needs=("context",)),
    _s("feature-extraction", "feature-extraction sentence-similarity", "AutoModel", needs=("sentences",)),
    _s("sentence-transformers", "sentence-similarity feature-extraction", "", library="sentence-transformers",
       needs=("sentences",)),
    _s("llama-cpp", "text-generation", "", generates=True, library="llama-cpp-python"),
)}

#: the style a task gets when the card names none
BY_TASK = {
    "text-generation": "causal", "text2text-generation": "seq2seq", "summarization": "seq2seq",
    "translation": "seq2seq", "text-classification": "text-classification",
    "token-classification": "token-classification", "fill-mask": "fill-mask",
    "question-answering": "question-answering", "feature-extraction": "feature-extraction",
    "sentence-similarity": "feature-extraction",
}
BY_LIBRARY = {"sentence-transformers": "sentence-transformers", "llama-cpp-python": "llama-cpp"}


def style_of(m: CardSource) -> str:
    """The snippet style a card uses: the one it names, else its library's, its task's, or `causal`
    (`chat` when the prompt is a chat template)."""
    u = m.usage
    if u is not None and u.style not in (None, "default"):
        return u.style
    if m.library_name in BY_LIBRARY:
        return BY_LIBRARY[m.library_name]
    if m.quantization is not None and m.quantization.method == "GGUF":
        return "llama-cpp"
    tag = m.pipeline_tag or "text-generation"
    style = BY_TASK.get(tag)
    if style is None and tag not in hubspec.pipeline_tags():
        # a tag the Hub does not know (CG203 warns and names the closest): the closest task's style
        close = difflib.get_close_matches(tag, list(BY_TASK), n=1, cutoff=0.8)
        style = BY_TASK[close[0]] if close else None
    if style is None:
        return ""  # no style of cardgen's serves this task (CG404 when the card asks for a snippet)
    if style == "causal" and m.prompt is not None and m.prompt.chat_template is not None:
        return "chat"
    return style
