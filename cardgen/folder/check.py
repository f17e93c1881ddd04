"""Every copy of a fact the model folder holds, checked against the others: the card's typed values
against the folder's (`config.json`, the safetensors and GGUF headers, the quantisation configs), the
chat template's copies on token ids, the stop ids, the GGUF `general.*` metadata, and local paths
where the Hub wants an id. A diagnostic names both places."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen.diagnostics import CODES, Diagnostic, Where
from cardgen.files import display
from cardgen.folder import codes
from cardgen.folder.headers import parse_count
from cardgen.folder.read import Folder, local_path, read_folder
from cardgen.folder.tokens import template_copies
from cardgen.schema import GGUF

if TYPE_CHECKING:
    from cardgen.card import Card


def diag(where: Where, code: str, message: str) -> Diagnostic:
    return Diagnostic(where.file, where.line, where.col, code, message, CODES[code].severity)


def model_dir(card: Card) -> Path | None:
    """The folder a card names in `model_dir:` (relative to its source file), if any."""
    d = card.model.model_dir
    if not d or card.origin.get("model_dir", card.src) is not card.src:
        return None
    return card.src.folder / d


def check_card(card: Card, folder: Folder | None = None) -> list[Diagnostic]:
    """The folder checks of one card: ``folder`` given (`--model-dir`), else the card's `model_dir:`;
    the base card's own folder, when it names one, is a copy too."""
    if folder is None:
        d = model_dir(card)
        if d is None:
            return []
        if not d.is_dir():
            return [diag(card.loc("model_dir"), codes.UNREADABLE, f"model_dir: no folder {display(d)}")]
        folder = read_folder(d)
    base = None
    if card.base is not None and (bd := model_dir(card.base)) is not None and bd.resolve() != folder.root.resolve():
        base = read_folder(bd)
    out = list(folder.diagnostics) + (list(base.diagnostics) if base else [])
    out += typed(card, folder)
    out += file_table(card, folder)
    copies = [f for f in (base, folder) if f is not None]  # the base's first: the derived copies are judged
    out += template_copies(card, copies)
    out += stops(card, copies)
    out += general(card, folder)
    out += local_paths(card, folder)
    return out


def _written(card: Card, *path: str) -> Any:
    """The card's value at ``path`` when the card (or its base) writes it; None otherwise."""
    v: Any = card.model
    for p in path:
        if v is None or p not in type(v).model_fields or p not in v.model_fields_set:
            return None
        v = getattr(v, p)
    return v


def typed(card: Card, folder: Folder) -> list[Diagnostic]:
    out = []
    for path in (("model_type",), ("parameters",), ("context_length",), ("usage", "dtype"), ("base_model",)):
        fact = folder.facts.get(path)
        mine = _written(card, *path)
        if fact is None or mine is None or fact.file.endswith(".gguf") and path == ("model_type",):
            continue
        if path == ("parameters",):
            a, b = parse_count(str(mine)), parse_count(str(fact.value))
            same = a is None or b is None or 0.8 <= a / b <= 1.25
        elif path == ("base_model",):
            same = fact.value in ([mine] if isinstance(mine, str) else mine) or any(
                local_path(m) for m in ([mine] if isinstance(mine, str) else mine))  # a path: local_paths says it
        else:
            same = mine == fact.value
        if not same:
            out.append(diag(card.loc(*path), codes.DISAGREES,
                            f"{'.'.join(path)} is {mine!r} here but {fact.value!r} in {folder.where(fact.file)}: "
                            f"`cardgen sync {display(card.src.folder)} --from {display(folder.root)}` writes the "
                            "folder's"))
    return out


def _size_bytes(text: str) -> float | None:
    parts = str(text).split()
    units = {"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
    try:
        return float(parts[0]) * units[parts[1].upper()] if len(parts) == 2 else None
    except (ValueError, KeyError):
        return None


def _same_size(a: str, b: str) -> bool:
    x, y = _size_bytes(a), _size_bytes(b)
    return x is None or y is None or abs(x - y) <= 0.02 * max(x, y)


def _dataset_id(v: Any) -> Any:
    return getattr(v, "id", v)


def file_table(card: Card, folder: Folder) -> list[Diagnostic]:
    """The card's GGUF files or GPTQ/AWQ branches against the folder's, on what the folder holds."""
    fact = folder.facts.get(("quantization",))
    q = card.model.quantization
    if fact is None or q is None:
        return []
    if fact.value["method"] != q.method:
        return [diag(card.loc("quantization", "method"), codes.DISAGREES,
                     f"the card lists {q.method} files but {display(folder.root)} holds {fact.value['method']}")]
    key, rows, compared = (("file", fact.value["files"], ("quant_method", "bits", "size")) if q.method == "GGUF" else
                           ("branch", [{k: v for k, v in r.items() if k != "_file"} for r in folder.variants.values()],
                            ("bits", "group_size", "act_order", "damp_percent", "dataset", "seq_len", "version",
                             "zero_point", "size")))
    listed = q.files if isinstance(q, GGUF) else q.variants
    found = {r[key]: r for r in rows}
    out = []
    for i, row in enumerate(listed):
        name = getattr(row, key)
        where = card.loc("quantization", "files" if key == "file" else "variants", i)
        have = found.get(name)
        if have is None:
            out.append(diag(where, codes.FILE_TABLE, f"{name} is listed but {display(folder.root)} has no such "
                                                     f"{'file' if key == 'file' else 'branch folder'}"))
            continue
        for k in compared:
            if k not in have or not hasattr(row, k):
                continue
            mine, theirs = _dataset_id(getattr(row, k)), have[k]
            same = _same_size(mine, theirs) if k == "size" else (
                str(mine).upper() == str(theirs).upper() if k == "quant_method" else mine == theirs)
            if not same:
                src = name if key == "file" else f"{name}'s {have.get('_file', 'quantisation config')}"
                out.append(diag(card.loc("quantization", "files" if key == "file" else "variants", i, k),
                                codes.DISAGREES, f"{name}: {k} is {mine!r} here but {theirs!r} in "
                                                 f"{display(folder.root / src) if key == 'file' else src}"))
    names = {getattr(r, key) for r in listed}
    for name in found:
        if name not in names:
            out.append(diag(card.loc("quantization"), codes.UNLISTED,
                            f"{display(folder.root / name) if key == 'file' else name} is in the model folder but "
                            "not in the card's table"))
    return out


def stops(card: Card, folders: list[Folder]) -> list[Diagnostic]:
    """Every stop set (tokenizer, config.json, GGUF headers, the card) within the end-of-sequence ids of
    generation_config.json (else config.json, else the tokenizer's)."""
    copies = [(f.where(file), ids) for f in folders for file, ids in f.stops.items()]
    ref = next(((w, ids) for name in ("generation_config.json", "config.json", "tokenizer_config.json")
                for w, ids in copies if w.endswith(name)), None) or (copies[0] if copies else None)
    if ref is None:
        return []
    out = []
    ref_where, ref_ids = ref
    for where, ids in copies:
        extra = [i for i in ids if i not in ref_ids]
        if extra and where != ref_where:
            out.append(diag(Where(where), codes.STOPS,
                            f"{where} stops at id(s) {extra}, which {ref_where} does not ({ref_ids}): generation "
                            "stops elsewhere than the model was trained to"))
    p = card.model.prompt
    if p is not None and p.stop_token_ids:
        missing = [i for i in ref_ids if i not in p.stop_token_ids]
        if missing:
            out.append(diag(card.loc("prompt", "stop_token_ids"), codes.STOPS,
                            f"prompt.stop_token_ids {p.stop_token_ids} leaves out {missing}, which {ref_where} "
                            "names as end-of-sequence"))
    return out


def general(card: Card, folder: Folder) -> list[Diagnostic]:
    """A GGUF file's `general.*` metadata against the card (warnings: llama.cpp shows them, the Hub does not)."""
    out = []
    lic = card.license.value if card.license else None
    q_by = (card.model.metadata or {}).get("quantized_by")
    for g in folder.ggufs:
        m = g.meta
        mine = {"general.name": card.model.name, "general.architecture": card.model.model_type,
                "general.license": (lic.name if lic and lic.id == "other" else lic.id) if lic else None,
                "general.quantized_by": q_by}
        for key, value in mine.items():
            theirs = m.get(key)
            if isinstance(theirs, str) and value is not None and "todo" not in str(value).lower() \
                    and _norm(str(value)) != _norm(theirs):
                out.append(diag(card.loc(*_FIELD[key]), codes.GENERAL,
                                f"{folder.where(g.file)} says {key} {theirs!r}, the card {value!r}"))
        size = m.get("general.size_label")
        a, b = parse_count(str(size)) if size else None, parse_count(card.model.parameters or "")
        if a and b and not 0.8 <= a / b <= 1.25:
            out.append(diag(card.loc("parameters"), codes.GENERAL,
                            f"{folder.where(g.file)} says general.size_label {size!r}, the card "
                            f"{card.model.parameters!r}"))
        base = m.get("general.basename")
        names = {card.repo_name.lower()} | ({card.base.repo_name.lower()} if card.base else set())
        if isinstance(base, str) and not any(n.startswith(base.lower()) for n in names):
            out.append(diag(card.where(), codes.GENERAL,
                            f"{folder.where(g.file)} says general.basename {base!r}, not the name of this repository "
                            f"or its base ({', '.join(sorted(names))})"))
    return out


def _norm(name: str) -> str:
    return re.sub(r"[\s_-]+", "-", name.strip().lower())


_FIELD = {"general.name": ("name",), "general.architecture": ("model_type",), "general.license": ("license",),
          "general.quantized_by": ("metadata", "quantized_by")}


def local_paths(card: Card, folder: Folder) -> list[Diagnostic]:
    """`base_model` and `datasets` entries that are paths: refused, with the Hub id the folder's configs name."""
    out = []
    hub = next(iter(folder.hub_ids.items()), None)
    hint = (f"; {folder.where(hub[0])} names the Hub id {hub[1]!r}: write that" if hub else
            "; write the Hub id of the model it was made from")
    bases = card.model.base_model
    for i, b in enumerate([bases] if isinstance(bases, str) else bases or []):
        if local_path(b):
            where = card.loc("base_model") if isinstance(bases, str) else card.loc("base_model", i)
            out.append(diag(where, codes.LOCAL_PATH, f"base_model {b!r} is a local path, which the Hub refuses{hint}"))
    for i, d in enumerate(card.model.datasets or []):
        if isinstance(d, str) and local_path(d):
            out.append(diag(card.loc("datasets", i), codes.LOCAL_PATH,
                            f"datasets: {d!r} is a local path, which the Hub refuses; write the dataset's Hub id"))
    return out


def copies_only(card: Card, source: Path) -> list[Diagnostic]:
    """`smoke --tokenizer-only`: the copies of the chat template and of the stops, the GGUF metadata and
    local paths, against the folder the model is loaded from (the typed sizes and file tables are
    `validate`'s: a smoke test may load a small stand-in of the model)."""
    folder = read_folder(source)
    folders = [folder]
    if card.base is not None and (bd := model_dir(card.base)) is not None and bd.resolve() != source.resolve():
        folders.insert(0, read_folder(bd))
    return (template_copies(card, folders) + stops(card, folders) + general(card, folder)
            + local_paths(card, folder))
