"""The risk-section recogniser: a RiskRAG risk section as a page shows it when flattened to text, into a
`risk_assessment` shown by cardgen's matrix.

The section is read in the order the page gives it: the heading and its summary sentence (the counts),
the matrix (one tab-separated line per risk, its cells lost), the details of the uses, and the
mitigations per risk. Each step gives up (None) on what is not this form; the parts must then agree
with each other before the assessment is made."""

from __future__ import annotations

import re
from typing import Any

from cardgen.importing.recognise.claims import Claim, literal
from cardgen.importing.recognise.registry import Context, recogniser

_SUMMARY = re.compile(r"We identified ([0-9]{1,9}) potential model risks? and ([0-9]{1,9}) mitigation strateg(?:y|ies) "
                      r"\(M\) for ([0-9]{1,9}) potential model uses?")
_LAYERS = {"capability risk": "capability", "human interaction risk": "human interaction", "systemic risk": "systemic"}
_USE_FIELDS = {"purpose": "purpose", "capability": "capability", "ai user": "ai_user", "ai subject": "ai_subject",
               "domain": "domain"}


def _plain(line: str) -> str:
    """A line of a flattened page without markdown marks: `#`, list markers, `**`, indentation."""
    t = re.sub(r"^\s*(?:#+\s*|[-*+]\s+)", "", line).strip()
    return re.sub(r"^\*\*(.*)\*\*$", r"\1", t).strip()


#: a row of the flattened matrix: the risk's id, its statement, and its cells (empty: lost)
Row = tuple[str, str, list[str]]


def _summary(plain: list[str]) -> tuple[int, int, re.Match[str]] | None:
    """The section's heading and its summary sentence, the first line after it that is not blank:
    (the heading's line, the sentence's line, the sentence)."""
    head = next((i for i, t in enumerate(plain) if t.lower().startswith("summary of model risks")), None)
    if head is None:
        return None
    at = head + 1
    while at < len(plain) and not plain[at]:
        at += 1
    summary = _SUMMARY.search(plain[at]) if at < len(plain) else None
    if summary is None:
        return None
    return head, at, summary


def _matrix(lines: list[str], plain: list[str], at: int) -> tuple[list[Row], int]:
    """The matrix after the summary (line ``at``): risk rows `R1<tab>statement<tab>cells...` up to the
    uses' details; and the line those begin on (the end of the page: none)."""
    rows: list[Row] = []
    i = at + 1
    while i < len(lines) and not plain[i].lower().startswith("details of the example uses"):
        cells = lines[i].split("\t")
        if re.fullmatch(r"R\d+", cells[0].strip()) and len(cells) >= 2:
            rows.append((cells[0].strip(), cells[1].strip(), [c.strip() for c in cells[2:]]))
        i += 1
    return rows, i


def _uses(plain: list[str], i: int) -> tuple[list[dict[str, str]], int]:
    """The uses' details after their heading (line ``i``): an id `U1` and its fields, each `name: value`, up
    to the mitigations; and the line those begin on (the end of the page: none)."""
    uses: list[dict[str, str]] = []
    i += 1
    while i < len(plain) and not plain[i].lower().startswith("mitigations for risks"):
        t = plain[i]
        if re.fullmatch(r"U\d+", t):
            uses.append({"id": t})
        elif uses and ":" in t:
            key, _, value = t.partition(":")
            name = _USE_FIELDS.get(key.strip().lower())
            if name:
                uses[-1][name] = re.sub(r"^\*\*(.*)\*\*$", r"\1", value.strip())
        i += 1
    return uses, i


def _mitigation_lines(plain: list[str], i: int) -> list[tuple[int, str]]:
    """The mitigations after their heading (line ``i``), as a sequence of the page's lines that are not
    blank: a risk id, its statement, layer and harm area, then `M` and a mitigation, repeated (a
    mitigation and the next `M` may run together on one line: split)."""
    seq: list[tuple[int, str]] = []
    for j in range(i + 1, len(plain)):
        t = plain[j]
        if t.endswith(" M") and len(t) > 2:
            seq += [(j, t[:-2].strip()), (j, "M")]
        elif t:
            seq.append((j, t))
    return seq


def _risks(seq: list[tuple[int, str]], end: int) -> tuple[dict[str, dict[str, Any]], dict[str, str], int] | None:
    """The risks the mitigation lines ``seq`` describe, each with the ids of its mitigations; the
    mitigations by id (the same sentence twice: one id); and the line after the last one read (``end``
    when none is). None on a layer or harm area cardgen does not have, or a risk described twice."""
    from typing import get_args

    from cardgen.risk.schema import HarmArea

    HARM_AREAS = get_args(HarmArea)  # noqa: N806

    risks: dict[str, dict[str, Any]] = {}
    mitigations: dict[str, str] = {}
    k = 0
    while k < len(seq) and re.fullmatch(r"R\d+", seq[k][1]) and k + 3 < len(seq):
        rid, statement, layer, harm = (x[1] for x in seq[k:k + 4])
        area = harm[:-6].lower() if harm.endswith(" harms") else ""
        if layer.lower() not in _LAYERS or area not in HARM_AREAS or rid in risks:
            return None
        risk: dict[str, Any] = {"id": rid, "statement": statement, "layer": _LAYERS[layer.lower()],
                                "harm_area": area, "mitigations": []}
        risks[rid] = risk
        end, k = seq[k + 3][0] + 1, k + 4
        while k + 1 < len(seq) and seq[k][1] == "M":
            text = seq[k + 1][1]
            mid = next((m for m, v in mitigations.items() if v == text), f"M{len(mitigations) + 1}")
            mitigations[mid] = text
            risk["mitigations"].append(mid)
            end, k = seq[k + 1][0] + 1, k + 2
    return risks, mitigations, end


def _agree(rows: list[Row], risks: dict[str, dict[str, Any]], n_uses: int) -> bool:
    """Whether the matrix and the mitigations name the same risks, in the same order and with the same
    statements, and the matrix's cells are empty (lost in the flattening: else not this form)."""
    ids = [r[0] for r in rows]
    if list(risks) != ids or any(len(r) != 5 for r in risks.values()):
        return False
    if any(len(cells) > n_uses or any(c not in ("", "<div></div>") for c in cells) for _, _, cells in rows):
        return False  # cells with content: not this flattened form
    statements = {r[0]: r[1] for r in rows}
    return not any(statements[k] != v["statement"] for k, v in risks.items())


def _counts(ctx: Context, summary: re.Match[str], line: int, computed: list[int]) -> str:
    """The summary's counts (on line ``line``) against the lists' ``computed`` ones: one that disagrees is
    reported, and kept as written (the partial: cardgen's own with the sentence as written), or, with
    `--fix`, computed (what the README then says is recorded). Returns the partial ("": cardgen's own)."""
    said = [int(x) for x in summary.groups()]
    if said == computed:
        return ""
    what = ", ".join(f"{a} {name} where it lists {b}" for a, b, name in zip(said, computed, ("risks", "mitigation "
                     "strategies", "uses"), strict=True) if a != b)
    ctx.problems.append(f"line {line + 1 + ctx.body.offset}: the card says {what}: "
                        + ("the count is computed now (--fix)" if ctx.fix else "kept as written (`--fix` computes it)"))
    if ctx.fix:  # what the README says once the counts are computed
        ctx.body.fixed[line] = _SUMMARY.sub(lambda m: _with_counts(m, computed), ctx.body.lines[line], 1)
        return ""
    from cardgen.sections import package_templates

    default = (package_templates() / "risks.md.j2").read_text("utf-8")
    return default.replace("{{ risks.summary }}", literal(summary.group(0)), 1)


def _with_counts(m: re.Match[str], counts: list[int]) -> str:
    """The matched sentence with its numbers replaced by ``counts``, in order."""
    text, start = m.group(0), m.start()
    for k in range(len(counts), 0, -1):
        text = text[:m.start(k) - start] + str(counts[k - 1]) + text[m.end(k) - start:]
    return text


@recogniser(50)
def risk_matrix(ctx: Context) -> Claim | None:
    """A RiskRAG risk section as a page shows it when flattened to text (the matrix as tab-separated
    lines whose cells were lost, the uses' details, the mitigations per risk): a `risk_assessment`
    whose cells are `unknown`, shown by cardgen's matrix. A hand-typed count that disagrees with the
    lists is kept as written (reported), or computed with ``fix``."""
    lines = ctx.body.lines
    plain = [_plain(x) for x in lines]
    found = _summary(plain)
    if found is None:
        return None
    head, summary_line, summary = found
    rows, i = _matrix(lines, plain, summary_line)
    if not rows or i >= len(lines):
        return None
    uses, i = _uses(plain, i)
    if not uses or any(len(u) != 6 for u in uses) or i >= len(lines):
        return None
    read = _risks(_mitigation_lines(plain, i), i + 1)
    if read is None:
        return None
    risks, mitigations, end = read
    n_uses = len(uses)
    if not _agree(rows, risks, n_uses):
        return None
    assessment = {
        "heading": plain[head], "order": "as_written",
        "basis": {"method": "imported", "text": "transcribed from the original card, whose matrix cells were lost: "
                                                "each is unknown"},
        "uses": uses, "risks": list(risks.values()), "mitigations": mitigations,
        "matrix": {r: {u["id"]: "unknown" for u in uses} for r in risks}}
    partial = _counts(ctx, summary, summary_line, [len(risks), len(mitigations), n_uses])
    return Claim(head, end, "risks", {"risk_assessment": assessment}, partial,
                 f"risk matrix ({len(risks)} risks × {n_uses} uses, {len(mitigations)} mitigations)", by_lines=True)
