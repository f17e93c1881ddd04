"""The template context of a card: every computed value a template shows, section by section.

Templates only place these values; no business logic lives in them. Every value is a plain string,
list or dict, built deterministically from the resolved card alone (the snippet's and prompt's in
``snippet``, the bulky tables and lists in ``values``). Each card section (``sections.SECTIONS``)
that shows computed values has its builder in ``BUILDERS``, registered with ``builds``.

The context is one flat namespace that every partial sees, so each builder declares the keys it
owns as a ``TypedDict`` of its values: two builders that claim one key (or claim one that ``build``
sets for every card, or that the renderer adds) are refused when the second registers, instead of
one silently overwriting the other; and ``build`` checks that a builder returned exactly its keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar

from cardgen.card import Card
from cardgen.rendering.literals import bibtex, fill
from cardgen.rendering.snippet import bos_line, chat_values, prompt_block, snippet_values
from cardgen.rendering.values import (
    details,
    environment_values,
    evaluation_table,
    license_line,
    risk_values,
    training_values,
    variants_values,
)


class ContextKeyError(ValueError):
    """A builder claims a context key that another owns, or returned other keys than it declared."""


class Common(TypedDict):
    """The values every partial may use, set by ``build`` itself."""

    repo_id: str
    owner: str
    repo_name: str
    name: str
    meta: dict[str, Any]
    creator: str


#: keys the renderer (``jinja._body``) adds to the context for the templates to call
RENDER_KEYS = frozenset({"snippet", "base_card", "slot"})
RESERVED = frozenset(Common.__annotations__) | RENDER_KEYS

V = TypeVar("V", bound=Mapping[str, Any])
BuildFn = Callable[[Card, str], Mapping[str, Any]]


@dataclass(frozen=True)
class Builder:
    """A section's builder and the context keys it owns."""

    section: str
    fn: BuildFn
    keys: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__} (section {self.section!r})"

    def __call__(self, card: Card, name: str) -> Mapping[str, Any]:
        values = self.fn(card, name)
        if values.keys() != self.keys:
            missing, extra = sorted(self.keys - values.keys()), sorted(values.keys() - self.keys)
            raise ContextKeyError(f"builder {self.label} returned other keys than it declares: "
                                  f"missing {missing}, undeclared {extra}")
        return values


BUILDERS: dict[str, Builder] = {}


def builds(section: str, values: type[V]) -> Callable[[Callable[[Card, str], V]], Callable[[Card, str], V]]:
    """Register the function that computes what a section's partial shows; ``values`` is the
    ``TypedDict`` of what it returns, whose keys it owns in the context."""

    def add(fn: Callable[[Card, str], V]) -> Callable[[Card, str], V]:
        builder = Builder(section, fn, frozenset(values.__annotations__))
        _check_claim(builder)
        BUILDERS[section] = builder
        return fn

    return add


def _check_claim(new: Builder) -> None:
    """Refuse a second builder of a section, and a key that is reserved or another builder's."""
    if new.section in BUILDERS:
        raise ContextKeyError(f"builder {new.label}: the section already has one, {BUILDERS[new.section].label}")
    for key in sorted(new.keys):
        if key in RESERVED:
            raise ContextKeyError(f"builder {new.label} declares key {key!r}, which "
                                  + ("build sets for every card" if key not in RENDER_KEYS else "the renderer adds"))
        owner = next((b for b in BUILDERS.values() if key in b.keys), None)
        if owner is not None:
            raise ContextKeyError(f"builder {new.label} declares key {key!r}, which builder {owner.label} "
                                  "already owns")


# -- the sections -------------------------------------------------------------------------------
class TitleValues(TypedDict):
    title: str
    tagline: str


@builds("title", TitleValues)
def _title(card: Card, name: str) -> TitleValues:
    title = name if card.model.title is None else card.model.title  # "" for none (an imported card without one)
    return {"title": fill(title, name=name), "tagline": fill(card.model.tagline, name=name)}


class DescriptionValues(TypedDict):
    description_heading: str
    description: str


@builds("description", DescriptionValues)
def _description(card: Card, name: str) -> DescriptionValues:
    m = card.model
    return {"description_heading": m.description_heading,
            "description": fill(m.description, name=name, repo_id=card.repo_id)}


class UsageValues(TypedDict):
    usage: dict[str, Any] | None  # the snippet's values (``snippet.snippet_values``) and its intro


@builds("usage", UsageValues)
def _usage(card: Card, name: str) -> UsageValues:
    u = card.model.usage
    if u is None:
        return {"usage": None}
    if u.none is not None:  # no snippet, and why
        return {"usage": {"none": fill(u.none, name=name), "intro": ""}}
    intro = u.intro or "Use `{name}` with the following code snippet:"
    return {"usage": {"intro": fill(intro, name=name), "none": None, **snippet_values(card)}}


class PromptValues(TypedDict):
    prompt: dict[str, Any] | None


@builds("prompt_format", PromptValues)
def _prompt(card: Card, name: str) -> PromptValues:
    p = card.model.prompt
    if p is None:
        return {"prompt": None}
    c = chat_values(card)
    default_intro = "{name} should be used with this prompt format:" if p.template is not None else (
        "{name} is prompted through its chat template; for this conversation:" if c and c["messages"] else
        "{name} should be used with this chat template; for this conversation it gives:")
    return {"prompt": {
        "name": p.name or "",
        "intro": fill(p.intro or default_intro, name=name),
        "block": prompt_block(card, name),
        "template": p.template or "",
        "chat": c,
        "chat_intro": ("With its chat template, for this conversation:" if c and p.template is not None else ""),
        "bos": bos_line(card),
        "format_name": f"This prompt format is known as **{p.name}**." if p.name else "",
        "differs": ("It deliberately differs from the tokenizer's chat template: "
                    + fill(p.chat_template_differs, name=name) if p.chat_template_differs else ""),
        "placeholders": ("Placeholders: " + "; ".join(f"`{{{k}}}`: {v}" for k, v in p.placeholders.items()) + "."
                         if "placeholders" in p.model_fields_set and p.template is not None else ""),
        "special_tokens": ("These markers are special tokens, each encoded as one token: "
                           + ", ".join(f"`{t}`" for t in p.special_tokens) + "." if p.special_tokens else ""),
    }}


class DetailsValues(TypedDict):
    details: list[tuple[str, str]]
    license_line: str


@builds("model_details", DetailsValues)
def _details(card: Card, name: str) -> DetailsValues:
    return {"details": details(card, name), "license_line": license_line(card, name)}


class VariantsValues(TypedDict):
    variants: dict[str, Any] | None


@builds("variants", VariantsValues)
def _variants(card: Card, name: str) -> VariantsValues:
    return {"variants": variants_values(card)}


class TrainingValues(TypedDict):
    training: dict[str, Any] | None


@builds("training", TrainingValues)
def _training(card: Card, name: str) -> TrainingValues:
    return {"training": training_values(card, name)}


class EvaluationValues(TypedDict):
    evaluation: str | None


@builds("evaluation", EvaluationValues)
def _evaluation(card: Card, name: str) -> EvaluationValues:
    return {"evaluation": evaluation_table(card)}


class EnvironmentValues(TypedDict):
    environment: list[tuple[str, str]] | None


@builds("environment", EnvironmentValues)
def _environment(card: Card, name: str) -> EnvironmentValues:
    return {"environment": environment_values(card)}


class RiskValues(TypedDict):
    risks: dict[str, Any] | None


@builds("risks", RiskValues)
def _risks(card: Card, name: str) -> RiskValues:
    return {"risks": risk_values(card)}


class CitationValues(TypedDict):
    cite_as_heading: str
    cite_as: list[str]
    citations_heading: str
    citations: list[str]


@builds("citations", CitationValues)
def _citations(card: Card, name: str) -> CitationValues:
    m = card.model
    return {"cite_as_heading": m.cite_as_heading, "cite_as": [bibtex(r.value) for r in card.cite_as],
            "citations_heading": m.citations_heading, "citations": [bibtex(r.value) for r in card.citations]}


class BaseValues(TypedDict):
    base: dict[str, Any] | None


@builds("base_card", BaseValues)
def _base(card: Card, name: str) -> BaseValues:
    b = card.base
    if b is None:
        return {"base": None}
    return {"base": {"repo_id": b.repo_id, "repo_name": b.repo_name, "name": b.name,
                     "creator": b.creator.value.name if b.creator else "",
                     "creator_hub": (b.creator.value.hub or "") if b.creator else "",
                     "embed": card.model.embed_base_card}}


# -- the whole context --------------------------------------------------------------------------
def build(card: Card) -> dict[str, Any]:
    """The template context of one card: the values every partial may use, then each section's."""
    name = card.name
    common: Common = {
        "repo_id": card.repo_id,
        "owner": card.owner,
        "repo_name": card.repo_name,
        "name": name,
        "meta": card.front_matter,
        "creator": card.creator.value.name if card.creator else "",
    }
    ctx: dict[str, Any] = dict(common)
    for builder in BUILDERS.values():
        ctx.update(builder(card, name))
    return ctx
