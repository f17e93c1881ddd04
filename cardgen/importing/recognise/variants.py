"""The provided-files recogniser: a table of the files a quantised repository provides, as cardgen writes
it for GPTQ (branches) or GGUF (files), into `quantization`."""

from __future__ import annotations

from typing import Any

from cardgen.importing.recognise.claims import LINK, Claim, cells, partial
from cardgen.importing.recognise.registry import Context, recogniser

_GPTQ_HEAD = ["Branch", "Bits", "GS", "Act Order", "Damp %", "GPTQ Dataset", "Seq Len", "Size"]
_GGUF_HEAD = ["Name", "Quant method", "Bits", "Size", "Max RAM required", "Use case"]


def _yes(v: str) -> bool | None:
    return {"yes": True, "no": False}.get(v.strip().lower())


def _count(text: str) -> int:
    """A table cell's whole number as cardgen writes one (ASCII digits, a few of them, perhaps after a
    minus); ValueError else."""
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit() and len(digits) < 10):
        raise ValueError(text)
    return int(text)


def _gptq_row(row: list[str], compat: list[str], repo: str) -> dict[str, Any] | None:
    row = [c.strip() for c in row]
    link = LINK.fullmatch(row[0])
    if not link or link.group(2) != f"https://huggingface.co/{repo}/tree/{link.group(1)}":
        return None
    try:
        v: dict[str, Any] = {"branch": link.group(1), "bits": _count(row[1]),
                             "group_size": None if row[2] == "None" else _count(row[2]), "act_order": _yes(row[3]),
                             "damp_percent": float(row[4]), "seq_len": _count(row[6]), "size": row[7]}
    except ValueError:
        return None
    if v["act_order"] is None or repr(v["damp_percent"]) != row[4]:
        return None
    ds = LINK.fullmatch(row[5])
    v["dataset"] = {"name": ds.group(1), "url": ds.group(2)} if ds else {"name": row[5]}
    flags = [_yes(c) for c in row[8:8 + len(compat)]]
    if None in flags:
        return None
    if compat:
        v["compatibility"] = dict(zip(compat, flags, strict=True))
    v["description"] = row[-1]
    return v


def _gptq(columns: list[str], rows: list[list[str]], repo: str) -> dict[str, Any] | None:
    """A GPTQ table: one branch of the repository per row, its compatibility flags between `Size` and
    `Desc`."""
    if columns[:8] != _GPTQ_HEAD or columns[-1] != "Desc" or not rows:
        return None
    compat = columns[8:-1]
    got = [_gptq_row(r, compat, repo) for r in rows if len(r) == len(columns)]
    if len(got) == len(rows) and None not in got:
        return {"method": "GPTQ", "variants": got}
    return None


def _gguf(columns: list[str], rows: list[list[str]], repo: str) -> dict[str, Any] | None:
    """A GGUF table: one file of the repository per row."""
    if columns != _GGUF_HEAD or not rows:
        return None
    files = []
    for r in (list(map(str.strip, r)) for r in rows):
        link = LINK.fullmatch(r[0]) if len(r) == 6 else None
        if not link or link.group(2) != f"https://huggingface.co/{repo}/blob/main/{link.group(1)}" \
                or not (r[2].isascii() and r[2].isdigit() and len(r[2]) < 10):
            break
        files.append({"file": link.group(1), "quant_method": r[1], "bits": _count(r[2]), "size": r[3],
                      "max_ram": r[4], "use_case": r[5]})
    if len(files) == len(rows):
        return {"method": "GGUF", "files": files}
    return None


@recogniser(40)
def variants(ctx: Context) -> Claim | None:
    """A table of provided files as cardgen writes them for GPTQ (branches) or GGUF (files)."""
    body = ctx.body
    for t in body.top():
        if t.type != "table_open":
            continue
        columns, rows = cells(body, t)
        columns = [c.strip() for c in columns]
        q = _gptq(columns, rows, ctx.repo) or _gguf(columns, rows, ctx.repo)
        if q is None:
            continue
        a, b = t.map
        n = len(q.get("variants", q.get("files", [])))
        return Claim(a, b, "variants", {"quantization": q}, partial(body.lines, a, b, [(a, b, "{{ variants.table }}")]),
                     f"{q['method']} provided files ({n})")
    return None
