"""Everything a template shows that is computed: tables, snippets, BibTeX, counts, filled prose.

Templates only place these values; no business logic lives in them. Every value here is a plain
string, list or dict, built deterministically from the resolved card alone. Each card section
(``sections.SECTIONS``) that shows computed values has its builder in ``BUILDERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cardgen import hubspec
from cardgen.card import Card, Ref
from cardgen.entries import Citation, Dataset, DatasetListing, License, Training
from cardgen.kinds import chat, tasks
from cardgen.kinds.prompt import fill_template, split_system
from cardgen.rendering.literals import (
    bibtex,
    fill,
    kwargs,
    md_table,
    number_word,
    py_fstring,
    py_str,
    py_triple_fstring,
    py_value,
)
from cardgen.risk import matrix as risks
from cardgen.schema import AWQ, EXL2, GGUF, GPTQ


# -- prompt and usage ------------------------------------------------------------------------
def py_literal(v: Any) -> str:
    """Python source of a value made of dicts, lists and scalars, strings double-quoted."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(py_literal(x) for x in v) + "]"
    return py_value(v)


def snippet_dtype(card: Card) -> str | None:
    """The dtype the snippet loads with: the card's, else float16 for generating models only."""
    u = card.model.usage
    style = tasks.STYLES.get(tasks.style_of(card.model))
    if u is None:
        return "float16" if style is None or style.generates else None
    if "dtype" not in u.model_fields_set and style is not None and not style.generates:
        return None
    return u.dtype


def snippet_values(card: Card, repo_id: str | None = None) -> dict[str, Any]:
    """What the usage snippet template needs, as ready-to-place Python source fragments."""
    m = card.model
    u = m.usage
    p = m.prompt
    repo = repo_id or card.repo_id
    style = tasks.style_of(m)
    tok_kw = {k: py_value(v) for k, v in (u.tokenizer_kwargs if u else {}).items()}
    model_kw: dict[str, str] = {}
    dtype = snippet_dtype(card)
    if dtype:
        model_kw["torch_dtype"] = '"auto"' if dtype == "auto" else f"torch.{dtype}"
    model_kw.update({k: py_value(v) for k, v in (u.model_kwargs if u else {}).items()})
    if m.trust_remote_code:
        model_kw["trust_remote_code"] = "True"
    gen = {k: py_value(v) for k, v in (u.generation if u else {}).items()}
    gen["max_new_tokens"] = str(u.max_new_tokens if u else 256)
    if p and p.stop_token_ids:
        gen["eos_token_id"] = repr(list(p.stop_token_ids))
    out: dict[str, Any] = {
        "repo": py_str(repo),
        "tokenizer_kwargs": ("", *[f"{k}={v}" for k, v in tok_kw.items()]),
        "model_kwargs": model_kw,
        "model_args": kwargs(model_kw),
        "model_arg_list": [f"{k}={v}" for k, v in model_kw.items()],
        "generate_arg_list": [f"{k}={v}" for k, v in gen.items()],
        "tokenizer_args": kwargs(tok_kw),
        "generate_args": kwargs(gen),
        "generation": gen,
        "needs_torch": bool(dtype and dtype != "auto"),
        "move_to_device": "device_map" not in model_kw,
        "message": py_str(u.message if u else "Write me a poem please"),
        "style": style,
        "auto_class": tasks.STYLES[style].auto_class if style in tasks.STYLES else "AutoModelForCausalLM",
        "context": py_str(u.context or "") if u else py_str(""),
        "sentences": py_literal(list(u.sentences) if u and u.sentences else [u.message if u else ""]),
        "mask_fstring": py_fstring((u.message if u else "").replace("{mask}", "{__mask__}"),
                                   {"__mask__": "tokenizer.mask_token"}),
        "messages": py_literal(chat.snippet_messages(card.model)),
        "add_special_tokens": repr(not (p is not None and p.bos == "template")),
        "gguf_file": py_str(_gguf_file(card)),
        "stop": py_literal(list(p.stop_strings)) if p and p.stop_strings else "",
        "skip_special_tokens": repr(u.skip_special_tokens if u else True),
        "prompt_vars": [],
        "prompt_fstring": py_str(""),
        "template": "",
        "template_triple": "",
        "system_message": py_str(""),
    }
    if p and p.template is not None:
        rename = {"prompt": "message"}
        parts = split_system(p.template)
        if parts and p.system_prompt is not None:
            system, rest = parts
            out["prompt_vars"] = [("system_prompt", py_str(fill_template(system, {"system_message": p.system_prompt})))]
            out["prompt_fstring"] = py_fstring("{__system__}" + rest, {**rename, "__system__": "system_prompt"})
        else:
            if parts:
                out["prompt_vars"] = [("system_message", py_str(p.system_prompt or ""))]
            out["prompt_fstring"] = py_fstring(p.template, rename)
        out["system_message"] = py_str(p.system_prompt or "")
        out["template"] = p.template
        out["template_triple"] = py_triple_fstring(p.template)
    return out


def _gguf_file(card: Card) -> str:
    q = card.model.quantization
    u = card.model.usage
    if u is not None and u.file:
        return u.file
    return q.files[0].file if isinstance(q, GGUF) else ""


BOS_TEXT = {
    "tokenizer": "The tokenizer adds the beginning-of-sequence token{tok} itself: the prompt text does not write it.",
    "template": "The prompt text writes the beginning-of-sequence token{tok} itself: encode it without adding "
                "special tokens (`add_special_tokens=False`).",
    "chat": "The chat template writes the beginning-of-sequence token{tok} itself: `apply_chat_template(..., "
            "tokenize=True)` adds no other; a prompt formatted as text is encoded with `add_special_tokens=False`.",
    "none": "No beginning-of-sequence token is used.",
}


def chat_values(card: Card) -> dict[str, Any] | None:
    """The chat template's shown example (rendered here, without transformers) or, for a template taken
    from the tokenizer, the conversation it formats."""
    p = card.model.prompt
    if p is None or p.chat_template is None:
        return None
    conversation = chat.shown_conversation(card.model)
    out: dict[str, Any] = {"from_tokenizer": p.chat_template == chat.FROM_TOKENIZER, "example": "",
                           "template": "", "messages": ""}
    if out["from_tokenizer"]:
        out["messages"] = json_block(conversation)
    else:
        out["template"] = p.chat_template
        out["example"] = chat.render(p.chat_template, conversation, p.bos_token, p.eos_token,
                                     add_generation_prompt=conversation[-1]["role"] != "assistant").rstrip("\n")
    return out


def json_block(v: Any) -> str:
    import json

    return json.dumps(v, indent=2, ensure_ascii=False)


def bos_line(card: Card) -> str:
    p = card.model.prompt
    if p is None or p.bos is None:
        return ""
    key = "chat" if p.bos == "template" and p.template is None else p.bos
    return BOS_TEXT[key].format(tok=f" `{p.bos_token}`" if p.bos_token else "")


def prompt_block(card: Card, name: str) -> str:
    p = card.model.prompt
    assert p is not None
    if p.template is None:
        return ""
    if p.show == "template":
        return p.template
    parts = split_system(p.template)
    if p.show == "system" and parts:
        return fill_template(parts[0], {"system_message": p.system_prompt or ""})
    filled = fill_template(p.template, {k: fill(v, name=name) for k, v in p.example.items()})
    if p.example_response:
        filled += fill(p.example_response, name=name)
    return filled


# -- the sections' values ------------------------------------------------------------------------
def license_line(card: Card, name: str) -> str:
    if not card.license:
        return ""
    lic: License = card.license.value
    url = fill(lic.url, repo_id=card.repo_id) if lic.url else None
    title = lic.title or hubspec.licenses().get(lic.id, lic.id)
    if lic.statement:
        return fill(lic.statement, name=name, title=title, url=url, repo_id=card.repo_id)
    return f"[{title}]({url})" if url else title


def details(card: Card, name: str) -> list[tuple[str, str]]:
    m = card.model
    out = []

    def who(ref: Ref) -> str:
        o = ref.value
        url = o.url or (f"https://huggingface.co/{o.hub}" if o.hub else None)  # its page on the Hub, else
        return f"[{o.name}]({url})" if url else str(o.name)

    base = card.base
    repackaged = base is not None and m.base_model_relation in (None, "quantized")
    if repackaged and base is not None and base.creator and base.creator.value.name != (
            card.creator.value.name if card.creator else None):
        out.append(("Developed by", who(base.creator)))
        if card.creator:
            out.append(("Quantized by" if m.base_model_relation == "quantized" else "Repackaged by",
                        who(card.creator)))
    elif card.creator:
        out.append(("Developed by", who(card.creator)))
    if m.model_type_description:
        out.append(("Model type", fill(m.model_type_description, name=name)))
    elif m.model_type:
        out.append(("Model type", f"`{m.model_type}`"))
    parameters = (card.member.parameters if card.member else None) or m.parameters
    if parameters:
        out.append(("Parameters", parameters))
    if m.language:
        out.append(("Language(s)", ", ".join(hubspec.languages().get(c, c) for c in m.language)))
    if isinstance(m.quantization, GGUF) and not card.library_name:
        out.append(("Library", "[llama.cpp](https://github.com/ggml-org/llama.cpp) (GGUF files)"))
    elif m.library_display or card.library_name:
        lib = card.library_name or ""
        out.append(("Library", m.library_display or hubspec.library_names().get(lib, lib)))
    if card.license:
        out.append(("License", license_line(card, name)))
    if m.contact:
        out.append(("Contact", m.contact))
    return out


def dataset_link(d: Dataset) -> str:
    url = d.url or (f"https://huggingface.co/datasets/{d.id}" if d.id else None)
    label = d.name or d.id or "dataset"
    return f"[{label}]({url})" if url else label


def dataset_listing(listing: DatasetListing, items: list[Dataset], name: str) -> str:
    lines = []
    for i, d in enumerate(items):
        text = dataset_link(d) + (f" ({d.size})" if d.size else "") + (f", {d.description}" if d.description else "")
        if i == len(items) - 1 and len(items) > 1:
            text = "and " + text
        lines.append(text)
    return "\n".join([fill(listing.intro, name=name, count=number_word(len(items)))] + lines)


def suite_table(card: Card, attr: str) -> str | None:
    rows = [(m.size, getattr(m, attr)) for m in card.members if getattr(m, attr)]
    if not rows:
        return None
    cols = list(dict.fromkeys(k for _, r in rows for k in r))
    return md_table([card.model.suite_column] + cols, [[size] + [r.get(c, "") for c in cols] for size, r in rows])


def training_values(card: Card, name: str) -> dict[str, Any] | None:
    ref: Ref | None = card.training
    t: Training | None = ref.value if ref else None
    arch = suite_table(card, "architecture")
    hyper = suite_table(card, "hyperparameters")
    if t is None and not (arch or hyper):
        return None
    t = t or Training()
    if t.architecture:
        arch = md_table(t.architecture.columns, t.architecture.rows)
    if t.hyperparameters:
        hyper = md_table(t.hyperparameters.columns, t.hyperparameters.rows)
    return {
        "heading": t.heading,
        "architecture": arch,
        "dataset_heading": t.dataset_heading,
        "dataset_text": fill(t.dataset_text, name=name),
        "dataset_list": dataset_listing(t.datasets, card.training_datasets, name) if t.datasets else "",
        "procedure_heading": t.procedure_heading,
        "procedure": fill(t.procedure, precision=t.precision, optimizer=t.optimizer, name=name),
        "hyperparameters": hyper,
    }


def variants_values(card: Card) -> dict[str, Any] | None:
    q = card.model.quantization
    if q is None:
        return None
    if isinstance(q, GGUF):
        rows = [[f"[{f.file}](https://huggingface.co/{card.repo_id}/blob/main/{f.file})", f.quant_method, f.bits,
                 f.size, f.max_ram, f.use_case] for f in q.files]
        return {"method": q.method, "kind": "files", "count": len(q.files), "intro": fill(q.intro, name=card.name),
                "table": md_table(["Name", "Quant method", "Bits", "Size", "Max RAM required", "Use case"], rows),
                "branches": [], "example_branch": "", "example_file": q.files[0].file, "compatibility": []}
    if isinstance(q, GPTQ):
        return _gptq_values(card, q)
    ds = [dataset_link(d) if d else "" for d in card.variant_datasets]
    if isinstance(q, EXL2):
        columns = ["Branch", "Bits", "lm_head bits", "Dataset", "Size", "Desc"]
        rows = [[_branch_link(card, v.branch), v.bits, "" if v.head_bits is None else v.head_bits, d, v.size,
                 v.description] for v, d in zip(q.variants, ds, strict=True)]
    else:
        assert isinstance(q, AWQ)
        columns = ["Branch", "Bits", "GS", "Version", "Zero point", "AWQ Dataset", "Size", "Desc"]
        rows = [[_branch_link(card, v.branch), v.bits, v.group_size, v.version, v.zero_point, d, v.size,
                 v.description or ""] for v, d in zip(q.variants, ds, strict=True)]
    branches = [v.branch for v in q.variants]
    return {"method": q.method, "kind": "branches", "count": len(branches), "intro": "",
            "table": md_table(columns, rows), "branches": branches,
            "example_branch": next((b for b in branches if b != "main"), branches[0]), "example_file": "",
            "compatibility": []}


def _branch_link(card: Card, branch: str) -> str:
    return f"[{branch}](https://huggingface.co/{card.repo_id}/tree/{branch})"


def _gptq_values(card: Card, q: GPTQ) -> dict[str, Any]:
    compat = list(dict.fromkeys(k for v in q.variants for k in v.compatibility))
    rows = []
    for v, ds in zip(q.variants, card.variant_datasets, strict=True):
        rows.append([
            f"[{v.branch}](https://huggingface.co/{card.repo_id}/tree/{v.branch})",
            v.bits,
            "None" if v.group_size is None else v.group_size,
            v.act_order,
            v.damp_percent,
            dataset_link(ds) if ds else "",
            v.seq_len,
            v.size,
            *[v.compatibility.get(c, False) for c in compat],
            v.description,
        ])
    columns = ["Branch", "Bits", "GS", "Act Order", "Damp %", f"{q.method} Dataset", "Seq Len", "Size", *compat, "Desc"]
    branches = [v.branch for v in q.variants]
    example = next((b for b in branches if b != "main"), branches[0])
    return {"method": q.method, "kind": "branches", "count": len(branches), "intro": "",
            "table": md_table(columns, rows), "branches": branches, "example_branch": example,
            "example_file": "", "compatibility": compat}


def evaluation_table(card: Card) -> str | None:
    """The results, grouped by task and dataset as the model-index groups them."""
    ev = card.model.evaluation
    if not ev:
        return None
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for r in ev:
        groups.setdefault((r.task_type, r.dataset_type, r.dataset_config, r.dataset_split, r.dataset_revision,
                           r.source_url), []).append(r)
    verified = any(r.verified for r in ev)
    sources = any(r.source_url for r in ev)
    columns = ["Task", "Dataset", "Split", "Metric", "Value"] + ["Verified"] * verified + ["Source"] * sources
    rows = []
    for results in groups.values():
        for r in results:
            ds = r.dataset_name + (f" ({r.dataset_config})" if r.dataset_config else "")
            row: list[Any] = [r.task_name or r.task_type, ds, r.dataset_split or "", r.metric_name or r.metric_type,
                              r.metric_value]
            if verified:
                row.append(bool(r.verified))
            if sources:
                row.append(f"[{r.source_name or 'source'}]({r.source_url})" if r.source_url else "")
            rows.append(row)
    return md_table(columns, rows)


def environment_values(card: Card) -> list[tuple[str, str]] | None:
    co2 = card.model.co2_eq_emissions
    if co2 is None:
        return None
    grams = co2.emissions
    amount = f"{grams:g} g" if grams < 1000 else f"{grams / 1000:g} kg"
    out = [("Emissions", f"{amount} CO₂ equivalent")]
    for label, v in (("Source", co2.source), ("Training type", co2.training_type),
                     ("Geographical location", co2.geographical_location), ("Hardware used", co2.hardware_used)):
        if v:
            out.append((label, v))
    return out


def _cite_short(c: Citation) -> str:
    """`Rao et al., 2025` for a citation's author list and year."""
    authors = c.author if isinstance(c.author, list) else [
        a.strip() for a in (c.author or "").split(" and ") if a.strip()]
    first = authors[0].split(",")[0].split()[-1] if authors and authors[0] else ""
    who = f"{first} et al." if len(authors) > 2 else " and ".join(a.split(",")[0].split()[-1] for a in authors)
    return ", ".join(x for x in (who, str(c.year or "")) if x) or c.title or c.key


def risk_values(card: Card) -> dict[str, Any] | None:
    ra = card.model.risk_assessment
    if ra is None:
        return None
    s = risks.summary(card)
    uses = ra.uses
    rows = [[r.id, r.statement] + [risks.cell_text(ra, risks.cell(ra, r.id, u.id)) for u in uses]
            for r in risks.ordered_risks(ra)]
    totals = risks.use_totals(ra)
    rows.append(["", "**Risks that apply**"] + [str(totals[u.id]) for u in uses])
    notes = [f"{r.id} × {u.id}: {j.reason}" for r in risks.ordered_risks(ra) for u in uses
             if (j := risks.cell(ra, r.id, u.id)) is not None and j.reason]
    unknown = sum(1 for r in ra.risks for u in uses if (j := risks.cell(ra, r.id, u.id)) is not None
                  and j.state == risks.UNKNOWN)
    known = f" ({unknown} unknown)" if unknown else ""
    basis = ""
    if ra.basis:
        cite = f"; {_cite_short(card.risk_citation.value)}" if card.risk_citation else ""
        basis = f"Basis: {ra.basis.text} ({ra.basis.method}{cite})."
    return {
        "heading": ra.heading,
        "summary": (f"We identified {s.risks} potential model risk{'s' * (s.risks != 1)} and {s.mitigations} "
                    f"mitigation strateg{'ies' if s.mitigations != 1 else 'y'} (M) for {s.uses} potential model "
                    f"use{'s' * (s.uses != 1)}"),
        "applying": (f"{s.applying_cells} of the {s.cells} risk × use pairs apply{known}; rows are ordered by the "
                     "number of uses a risk applies to." if ra.order == "prioritised" else
                     f"{s.applying_cells} of the {s.cells} risk × use pairs apply{known}."),
        "intro": ra.intro or "",
        "matrix": md_table(["Risks", "Statement"] + [f"{u.purpose} ({u.id})" for u in uses], rows),
        "legend": risks.legend(ra),
        "basis": basis,
        "notes": notes,
        "uses": [{"id": u.id, "purpose": u.purpose, "capability": u.capability, "ai_user": u.ai_user,
                  "ai_subject": u.ai_subject, "domain": u.domain,
                  "eu_ai_act": f"{u.eu_ai_act.category.replace('_', ' ')} ({u.eu_ai_act.basis})" if u.eu_ai_act else ""}
                 for u in uses],
        "risks": [{"id": r.id, "statement": r.statement, "layer": risks.LAYER_TEXT[r.layer],
                   "harm_area": risks.harm_text(r.harm_area),
                   "mitigations": [card.mitigations[mid].value for mid in r.mitigations if mid in card.mitigations]}
                  for r in risks.ordered_risks(ra)],
    }


# -- the whole context, section by section ------------------------------------------------------
Builder = Callable[[Card, str], dict[str, Any]]
BUILDERS: dict[str, Builder] = {}


def builds(section: str) -> Callable[[Builder], Builder]:
    """Register the function that computes what a section's partial shows."""

    def add(fn: Builder) -> Builder:
        BUILDERS[section] = fn
        return fn

    return add


@builds("title")
def _title(card: Card, name: str) -> dict[str, Any]:
    title = name if card.model.title is None else card.model.title  # "" for none (an imported card without one)
    return {"title": fill(title, name=name), "tagline": fill(card.model.tagline, name=name)}


@builds("description")
def _description(card: Card, name: str) -> dict[str, Any]:
    m = card.model
    return {"description_heading": m.description_heading,
            "description": fill(m.description, name=name, repo_id=card.repo_id)}


@builds("usage")
def _usage(card: Card, name: str) -> dict[str, Any]:
    u = card.model.usage
    if u is None:
        return {"usage": None}
    intro = u.intro or "Use `{name}` with the following code snippet:"
    return {"usage": {"intro": fill(intro, name=name), **snippet_values(card)}}


@builds("prompt_format")
def _prompt(card: Card, name: str) -> dict[str, Any]:
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


@builds("model_details")
def _details(card: Card, name: str) -> dict[str, Any]:
    return {"details": details(card, name), "license_line": license_line(card, name)}


@builds("variants")
def _variants(card: Card, name: str) -> dict[str, Any]:
    return {"variants": variants_values(card)}


@builds("training")
def _training(card: Card, name: str) -> dict[str, Any]:
    return {"training": training_values(card, name)}


@builds("evaluation")
def _evaluation(card: Card, name: str) -> dict[str, Any]:
    return {"evaluation": evaluation_table(card)}


@builds("environment")
def _environment(card: Card, name: str) -> dict[str, Any]:
    return {"environment": environment_values(card)}


@builds("risks")
def _risks(card: Card, name: str) -> dict[str, Any]:
    return {"risks": risk_values(card)}


@builds("citations")
def _citations(card: Card, name: str) -> dict[str, Any]:
    m = card.model
    return {"cite_as_heading": m.cite_as_heading, "cite_as": [bibtex(r.value) for r in card.cite_as],
            "citations_heading": m.citations_heading, "citations": [bibtex(r.value) for r in card.citations]}


@builds("base_card")
def _base(card: Card, name: str) -> dict[str, Any]:
    b = card.base
    if b is None:
        return {"base": None}
    return {"base": {"repo_id": b.repo_id, "repo_name": b.repo_name, "name": b.name,
                     "creator": b.creator.value.name if b.creator else "",
                     "creator_hub": (b.creator.value.hub or "") if b.creator else "",
                     "embed": card.model.embed_base_card}}


def build(card: Card) -> dict[str, Any]:
    """The template context of one card: the values every partial may use, then each section's."""
    name = card.name
    ctx: dict[str, Any] = {
        "repo_id": card.repo_id,
        "owner": card.owner,
        "repo_name": card.repo_name,
        "name": name,
        "meta": card.front_matter,
        "creator": card.creator.value.name if card.creator else "",
    }
    for builder in BUILDERS.values():
        ctx.update(builder(card, name))
    return ctx
