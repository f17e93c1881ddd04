"""The training recogniser: hyperparameter and architecture tables and a list of datasets, in one `## `
section, into `training`."""

from __future__ import annotations

import re
from typing import Any

from cardgen.importing.recognise.claims import Body, Claim, cells, partial
from cardgen.importing.recognise.registry import Context, recogniser

_HYPER = ("batch size", "learning rate", "lr", "warm-up", "warmup", "weight decay", "epochs", "optimizer", "betas",
          "scheduler", "steps", "gradient accumulation")
_ARCH = ("hidden size", "layers", "heads", "sequence length", "vocab", "d_model", "attention heads", "context length",
         "intermediate size", "embedding")


def _kind(columns: list[str]) -> str | None:
    low = [c.lower().strip() for c in columns]
    if sum(any(w == c or w in c.split() or w in c for w in _HYPER) for c in low) >= 2:
        return "hyperparameters"
    if sum(any(w in c for w in _ARCH) for c in low) >= 2:
        return "architecture"
    return None


_ITEM = re.compile(r"\A(and )?\[([^\]]+)\]\(([^)\s]+)\)(?:, (.+))?\Z")


def _dataset_list(body: Body, t: Any, problems: list[str], fix: bool) -> dict[str, Any] | None:
    """A paragraph listing datasets, as cardgen writes `training.datasets`: an intro that ends with `:` and
    names how many, then one `[name](url), description` per line, the last after `and`."""
    from cardgen.rendering.literals import NUMBER_WORDS, number_word

    lines = body.lines[t.map[0]:t.map[1]]
    if len(lines) < 3 or not lines[0].rstrip().endswith(":"):
        return None
    count = re.search(r"\b(" + "|".join(NUMBER_WORDS) + r"|\d+) (?:\w+ )?datasets?\b", lines[0], re.I)
    items = [_ITEM.match(x.strip()) for x in lines[1:]]
    if count is None or None in items or any(bool(m.group(1)) != (k == len(items) - 1)  # type: ignore[union-attr]
                                             for k, m in enumerate(items)):
        return None
    found = [{"name": m.group(2), "url": m.group(3), **({"description": m.group(4)} if m.group(4) else {})}
             for m in items if m is not None]
    said, computed = count.group(1), number_word(len(found))
    intro = lines[0].strip()
    if said.lower() == computed or fix:
        intro = intro[:count.start(1)] + "{count}" + intro[count.end(1):]
        if said.lower() != computed:  # what the README says once the count is computed
            body.fixed[t.map[0]] = lines[0][:count.start(1)] + computed + lines[0][count.end(1):]
    if said.lower() != computed:
        problems.append(f"line {t.map[0] + 1 + body.offset}: the card says {said} datasets where it lists "
                        f"{len(found)}: " + ("the count is computed now (--fix)" if fix else
                                             "kept as written (`--fix` computes it)"))
    return {"intro": intro, "items": found}


def _parts(body: Body, start: int, end: int, problems: list[str], fix: bool) -> dict[str, Any]:
    """The training parts among the blocks of lines ``start``..``end``, the first of each kind (`datasets`,
    `hyperparameters`, `architecture`), each with its block: (block, value)."""
    found: dict[str, Any] = {}
    for t in body.blocks_in(start, end):
        if t.type == "paragraph_open" and "datasets" not in found:
            listing = _dataset_list(body, t, problems, fix)
            if listing is not None:
                found["datasets"] = (t, listing)
        if t.type != "table_open":
            continue
        columns, rows = cells(body, t)
        kind = _kind(columns)
        if kind and kind not in found and all(len(r) <= len(columns) for r in rows):
            found[kind] = (t, {"columns": columns, "rows": rows})
    return found


@recogniser(30)
def training(ctx: Context) -> Claim | None:
    """Hyperparameter and architecture tables (one of each) and a list of datasets, in one `## ` section:
    `training`."""
    body = ctx.body
    tops = [(s, e) for s, e, level, _ in body.sections() if level <= 2]
    for start, end in [(0, tops[0][0] if tops else len(body.lines)), *tops]:
        found = _parts(body, start, end, ctx.problems, ctx.fix)
        if not found:
            continue
        parts = sorted(found.items(), key=lambda kv: kv[1][0].map[0])
        a, b = parts[0][1][0].map[0], parts[-1][1][0].map[1]
        holes = [(t.map[0], t.map[1], "{{ training.dataset_list }}" if kind == "datasets" else
                  f"{{{{ training.{kind} }}}}") for kind, (t, _) in parts]
        data = {kind: value for kind, (_, value) in parts}
        what = ", ".join("dataset list" if k == "datasets" else k for k in data)
        return Claim(a, b, "training", {"training": data}, partial(body.lines, a, b, holes),
                     f"training ({what})")
    return None
