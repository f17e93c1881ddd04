"""Everything a template shows that is computed: tables, snippets, BibTeX, counts, filled prose.

Templates only place these values; no business logic lives in them. Every value here is a plain
string, list or dict, built deterministically from the resolved card alone. Each card section
(``sections.SECTIONS``) that shows computed values has its builder in ``BUILDERS``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import hubspec, risks
from .card import Card, Ref
from .prompt import PLACEHOLDER, fill_template, split_system
from .schema import BIBTEX_FIELDS, Citation, Dataset, DatasetListing, License, Training

NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
               "sixteen seventeen eighteen nineteen twenty".split()


def number_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


_VAR = re.compile(r"\{(name|repo_id|title|url|precision|optimizer|count)\}")


def fill(text: str | None, **values: Any) -> str:
    """Fill the known `{variables}` of prose; any other braces are left as written."""
    if text is None:
        return ""
    return _VAR.sub(lambda m: str(values[m.group(1)]) if values.get(m.group(1)) is not None else m.group(0), text)


def cell(v: Any) -> str:
    if isinstance(v, bool):
        return "Yes" if v else "No"
    if isinstance(v, float):
        return repr(v)
    return str(v).replace("|", "\\|").replace("\n", " ")


def md_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A markdown table, padded so that the source reads well too."""
    head = [cell(c) for c in columns]
    body = [[cell(v) for v in r] + [""] * (len(head) - len(r)) for r in rows]
    widths = [max([len(head[i])] + [len(r[i]) for r in body] + [3]) for i in range(len(head))]

    def line(vals: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"

    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in body])


_PY_ESCAPES = {**{c: f"\\x{c:02x}" for c in range(32)}, ord("\\"): "\\\\", ord('"'): '\\"',
               ord("\n"): "\\n", ord("\t"): "\\t"}


def py_str(s: str) -> str:
    """A double-quoted Python string literal."""
    return '"' + s.translate(_PY_ESCAPES) + '"'


def py_value(v: Any) -> str:
    if isinstance(v, str):
        return py_str(v)
    return repr(v)


def py_fstring(template: str, rename: dict[str, str]) -> str:
    """An f-string literal of ``template`` with its placeholders renamed to Python variables."""
    parts, last = [], 0
    for m in PLACEHOLDER.finditer(template):
        parts.append(py_str(template[last:m.start()])[1:-1].replace("{", "{{").replace("}", "}}"))
        parts.append("{" + rename.get(m.group(1), m.group(1)) + "}")
        last = m.end()
    parts.append(py_str(template[last:])[1:-1].replace("{", "{{").replace("}", "}}"))
    return 'f"' + "".join(parts) + '"'


def py_triple_fstring(template: str) -> str:
    """The body of a triple-quoted f-string showing ``template``, placeholders kept as variables."""
    parts, last = [], 0

    def lit(t: str) -> str:
        t = t.replace("\\", "\\\\").replace("'", "\\'")
        return t.replace("{", "{{").replace("}", "}}")

    for m in PLACEHOLDER.finditer(template):
        parts.append(lit(template[last:m.start()]))
        parts.append(m.group(0))
        last = m.end()
    parts.append(lit(template[last:]))
    return "".join(parts)


def kwargs(pairs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pairs.items())


def bibtex(c: Citation) -> str:
    eq = " = " if c.spaced_equals else "="
    names = c._order or [f for f in BIBTEX_FIELDS if getattr(c, f) is not None]
    fields = []
    for f in names:
        v = getattr(c, f)
        if v is None:
            continue
        if isinstance(v, list):
            v = " and ".join(v)
        fields.append(f"{' ' * c.indent}{f}{eq}{{{v}}}")
    body = ",\n".join(fields) + ("," if c.trailing_comma and fields else "")
    return f"@{c.type}{{{c.key},\n{body}\n}}"


# -- prompt and usage ------------------------------------------------------------------------
def snippet_values(card: Card, repo_id: str | None = None) -> dict[str, Any]:
    """What the usage snippet template needs, as ready-to-place Python source fragments."""
    m = card.model
    u = m.usage
    p = m.prompt
    repo = repo_id or card.repo_id
    tok_kw = {k: py_value(v) for k, v in (u.tokenizer_kwargs if u else {}).items()}
    model_kw: dict[str, str] = {}
    if u and u.dtype:
        model_kw["torch_dtype"] = '"auto"' if u.dtype == "auto" else f"torch.{u.dtype}"
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
        "needs_torch": bool(u and u.dtype and u.dtype != "auto"),
        "move_to_device": "device_map" not in model_kw,
        "message": py_str(u.message if u else "Write me a poem please"),
        "skip_special_tokens": repr(u.skip_special_tokens if u else True),
        "prompt_vars": [],
        "prompt_fstring": py_str(""),
        "template": "",
        "template_triple": "",
        "system_message": py_str(""),
    }
    if p:
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


def prompt_block(card: Card, name: str) -> str:
    p = card.model.prompt
    assert p is not None
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
    if card.creator:
        o = card.creator.value
        out.append(("Developed by", f"[{o.name}]({o.url})" if o.url else o.name))
    if m.model_type_description:
        out.append(("Model type", fill(m.model_type_description, name=name)))
    if m.language:
        out.append(("Language(s)", ", ".join(hubspec.languages().get(c, c) for c in m.language)))
    if m.library_display or m.library_name:
        lib = m.library_name or ""
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
        text = dataset_link(d) + (f", {d.description}" if d.description else "")
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
    compat = list(dict.fromkeys(k for v in q.variants for k in v.compatibility))
    rows = []
    for v, ds in zip(q.variants, card.variant_datasets, strict=True):
        rows.append([
            f"[{v.branch}](https://huggingface.co/{card.repo_id}/tree/{v.branch})",
            v.bits,
            "None" if v.group_size is None else v.group_size,
            v.act_order,
            v.damp_percent,
            dataset_link(ds),
            v.seq_len,
            v.size,
            *[v.compatibility.get(c, False) for c in compat],
            v.description,
        ])
    columns = ["Branch", "Bits", "GS", "Act Order", "Damp %", f"{q.method} Dataset", "Seq Len", "Size", *compat, "Desc"]
    branches = [v.branch for v in q.variants]
    example = next((b for b in branches if b != "main"), branches[0])
    return {"method": q.method, "table": md_table(columns, rows), "branches": branches,
            "example_branch": example, "compatibility": compat}


def evaluation_table(card: Card) -> str | None:
    ev = card.model.evaluation
    if not ev:
        return None
    return md_table(["Task", "Dataset", "Metric", "Value"],
                    [[r.task_name or r.task_type, r.dataset_name, r.metric_name or r.metric_type, r.metric_value]
                     for r in ev])


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
    basis = ""
    if ra.basis:
        cite = f"; {_cite_short(card.risk_citation.value)}" if card.risk_citation else ""
        basis = f"Basis: {ra.basis.text} ({ra.basis.method}{cite})."
    return {
        "heading": ra.heading,
        "summary": (f"We identified {s.risks} potential model risk{'s' * (s.risks != 1)} and {s.mitigations} "
                    f"mitigation strateg{'ies' if s.mitigations != 1 else 'y'} (M) for {s.uses} potential model "
                    f"use{'s' * (s.uses != 1)}"),
        "applying": (f"{s.applying_cells} of the {s.cells} risk × use pairs apply; rows are ordered by the number of "
                     "uses a risk applies to." if ra.order == "prioritised" else
                     f"{s.applying_cells} of the {s.cells} risk × use pairs apply."),
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
    return {"title": fill(card.model.title or name, name=name)}


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
    return {"usage": {"intro": fill(intro, name=name), "style": u.style, **snippet_values(card)}}


@builds("prompt_format")
def _prompt(card: Card, name: str) -> dict[str, Any]:
    p = card.model.prompt
    if p is None:
        return {"prompt": None}
    return {"prompt": {
        "name": p.name or "",
        "intro": fill(p.intro or "{name} should be used with this prompt format:", name=name),
        "block": prompt_block(card, name),
        "template": p.template,
    }}


@builds("model_details")
def _details(card: Card, name: str) -> dict[str, Any]:
    return {"details": details(card, name)}


@builds("variants")
def _variants(card: Card, name: str) -> dict[str, Any]:
    return {"variants": variants_values(card)}


@builds("training")
def _training(card: Card, name: str) -> dict[str, Any]:
    return {"training": training_values(card, name)}


@builds("evaluation")
def _evaluation(card: Card, name: str) -> dict[str, Any]:
    return {"evaluation": evaluation_table(card)}


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
