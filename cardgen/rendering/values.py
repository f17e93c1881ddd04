"""The bulky values of the card's sections: the model details list, the training, variants,
evaluation and environment tables, and the risk matrix with its summary lines.

Each is computed from the resolved card alone, as a plain string, list or dict that the section's
partial places; ``context`` registers the builders that put them in the template context.
"""

from __future__ import annotations

import re
from typing import Any

from cardgen import hubspec
from cardgen.card import Card, Ref
from cardgen.entries import Citation, Dataset, DatasetListing, License, Training
from cardgen.rendering.literals import fill, md_table, number_word
from cardgen.risk import matrix as risks
from cardgen.risk.matrix import Summary
from cardgen.risk.schema import RiskAssessment
from cardgen.schema import AWQ, EXL2, GGUF, GPTQ


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
    """The model details list: who made it, its type, size, languages, library, licence and contact."""
    m = card.model
    out = _makers(card) + _origin(card)
    if m.model_type_description:
        out.append(("Model type", fill(m.model_type_description, name=name)))
    elif m.model_type:
        out.append(("Model type", f"`{m.model_type}`"))
    parameters = (card.member.parameters if card.member else None) or m.parameters
    if parameters:
        out.append(("Parameters", parameters))
    if m.context_length:
        out.append(("Context length", f"{m.context_length:,} tokens"))
    if m.language:
        codes = [m.language] if isinstance(m.language, str) else m.language
        out.append(("Language(s)", ", ".join(hubspec.languages().get(c, c) for c in codes)))
    library = _library(card)
    if library is not None:
        out.append(("Library", library))
    if card.license:
        out.append(("License", license_line(card, name)))
    if m.contact:
        out.append(("Contact", m.contact))
    return out


def _who(ref: Ref) -> str:
    o = ref.value
    url = o.url or (f"https://huggingface.co/{o.hub}" if o.hub else None)  # its page on the Hub, else
    return f"[{o.name}]({url})" if url else str(o.name)


def _makers(card: Card) -> list[tuple[str, str]]:
    """Who made the model: its creator; for a repackaged (or quantised) base of another creator, the
    base's creator, then who repackaged it."""
    m = card.model
    base = card.base
    repackaged = base is not None and m.base_model_relation in (None, "quantized")
    if repackaged and base is not None and base.creator and base.creator.value.name != (
            card.creator.value.name if card.creator else None):
        out = [("Developed by", _who(base.creator))]
        if card.creator:
            out.append(("Quantized by" if m.base_model_relation == "quantized" else "Repackaged by",
                        _who(card.creator)))
        return out
    return [("Developed by", _who(card.creator))] if card.creator else []


_REPO_ID = re.compile(r"[\w.-]+(?:/[\w.-]+)?", re.ASCII)  # what a Hub link can be built from as it is

#: how a derived model's row names its relation to the model it comes from (`base_model_relation`)
_ORIGIN = {"quantized": "Quantized from", "finetune": "Fine-tuned from", "adapter": "Adapter of",
           "merge": "Merged from"}


def _origin(card: Card) -> list[tuple[str, str]]:
    """The model a derived card comes from (its `base_model`, or the card it extends), linked to its page
    on the Hub: a quantised, converted, fine-tuned, adapted or merged model names its origin."""
    m = card.model
    base = m.base_model or m.extends
    if not base:
        return []
    ids = [base] if isinstance(base, str) else list(base)
    links = ", ".join(f"[{b}](https://huggingface.co/{b})" if _REPO_ID.fullmatch(b) else f"`{b}`" for b in ids)
    return [(_ORIGIN.get(m.base_model_relation or "", "Base model"), links)]


def _library(card: Card) -> str | None:
    """The library row: llama.cpp for GGUF files without a library, else the card's own words or the
    library's name; None for no row."""
    m = card.model
    if isinstance(m.quantization, GGUF) and not card.library_name:
        return "[llama.cpp](https://github.com/ggml-org/llama.cpp) (GGUF files)"
    if m.library_display or card.library_name:
        lib = card.library_name or ""
        return m.library_display or hubspec.library_names().get(lib, lib)
    return None


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
        "facts": training_facts(t),
        "hyperparameters": hyper,
    }


def training_facts(t: Training) -> str:
    """The training facts that the procedure's prose does not name (`{precision}`, `{optimizer}`), as a
    list under the procedure's heading: a field that is given is shown, with or without prose."""
    facts = [(label, value) for label, key, value in (("Precision", "precision", t.precision),
                                                      ("Optimizer", "optimizer", t.optimizer))
             if value is not None and f"{{{key}}}" not in (t.procedure or "")]
    return "\n".join(f"- {label}: {value}" for label, value in facts)


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
    return {
        "heading": ra.heading,
        "summary": (f"We identified {s.risks} potential model risk{'s' * (s.risks != 1)} and {s.mitigations} "
                    f"mitigation strateg{'ies' if s.mitigations != 1 else 'y'} (M) for {s.uses} potential model "
                    f"use{'s' * (s.uses != 1)}"),
        "applying": _applying(ra, s),
        "intro": ra.intro or "",
        "matrix": md_table(["Risks", "Statement"] + [f"{u.purpose} ({u.id})" for u in uses], _matrix_rows(ra)),
        "legend": risks.legend(ra),
        "basis": _basis(card, ra),
        "notes": [f"{r.id} × {u.id}: {j.reason}" for r in risks.ordered_risks(ra) for u in uses
                  if (j := risks.cell(ra, r.id, u.id)) is not None and j.reason],
        "uses": [{"id": u.id, "purpose": u.purpose, "capability": u.capability, "ai_user": u.ai_user,
                  "ai_subject": u.ai_subject, "domain": u.domain,
                  "eu_ai_act": f"{u.eu_ai_act.category.replace('_', ' ')} ({u.eu_ai_act.basis})" if u.eu_ai_act else ""}
                 for u in uses],
        "risks": [{"id": r.id, "statement": r.statement, "layer": risks.LAYER_TEXT[r.layer],
                   "harm_area": risks.harm_text(r.harm_area),
                   "mitigations": [card.mitigations[mid].value for mid in r.mitigations if mid in card.mitigations]}
                  for r in risks.ordered_risks(ra)],
    }


def _matrix_rows(ra: RiskAssessment) -> list[list[str]]:
    """The risk × use matrix: a row per risk (in the assessment's order), then the uses' totals."""
    uses = ra.uses
    rows = [[r.id, r.statement] + [risks.cell_text(ra, risks.cell(ra, r.id, u.id)) for u in uses]
            for r in risks.ordered_risks(ra)]
    totals = risks.use_totals(ra)
    rows.append(["", "**Risks that apply**"] + [str(totals[u.id]) for u in uses])
    return rows


def _applying(ra: RiskAssessment, s: Summary) -> str:
    """How many risk × use pairs apply (and how many are unknown), and how the rows are ordered."""
    unknown = sum(1 for r in ra.risks for u in ra.uses if (j := risks.cell(ra, r.id, u.id)) is not None
                  and j.state == risks.UNKNOWN)
    known = f" ({unknown} unknown)" if unknown else ""
    return (f"{s.applying_cells} of the {s.cells} risk × use pairs apply{known}; rows are ordered by the "
            "number of uses a risk applies to." if ra.order == "prioritised" else
            f"{s.applying_cells} of the {s.cells} risk × use pairs apply{known}.")


def _basis(card: Card, ra: RiskAssessment) -> str:
    """What the assessment rests on, with its citation shortened."""
    if not ra.basis:
        return ""
    cite = f"; {_cite_short(card.risk_citation.value)}" if card.risk_citation else ""
    return f"Basis: {ra.basis.text} ({ra.basis.method}{cite})."
