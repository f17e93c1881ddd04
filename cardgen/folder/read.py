"""A model folder read for the facts it holds: each one a value for a card field and the file it was
read from. The JSON files (`config.json`, `generation_config.json`, `tokenizer_config.json`,
`adapter_config.json`, `quantize_config.json`), `chat_template.jinja`, the safetensors headers and the
GGUF headers; never the weights, and of `tokenizer.json` only its added tokens (when
`tokenizer_config.json` does not list them)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.diagnostics import Diagnostic, Where, error
from cardgen.files import display, inside, link_tree, loads_json, read_text
from cardgen.folder import codes
from cardgen.folder.headers import (
    DTYPES,
    GGUFHeader,
    HeaderError,
    gguf_header,
    human_count,
    human_size,
    quant_bits,
    safetensors_header,
)
from cardgen.limits import MAX_MODEL_CONFIG_BYTES

#: llama.cpp's own words for its quantisations (as TheBloke's tables have them), the `use_case` a new row gets
USE_CASES = {
    "Q2_K": "smallest, significant quality loss - not recommended for most purposes",
    "Q3_K_S": "very small, high quality loss", "Q3_K_M": "very small, high quality loss",
    "Q3_K_L": "small, substantial quality loss", "Q4_0": "legacy; small, very high quality loss - prefer using Q3_K_M",
    "Q4_K_S": "small, greater quality loss", "Q4_K_M": "medium, balanced quality - recommended",
    "Q5_0": "legacy; medium, balanced quality - prefer using Q4_K_M", "Q5_K_S": "large, low quality loss - recommended",
    "Q5_K_M": "large, very low quality loss - recommended", "Q6_K": "very large, extremely low quality loss",
    "Q8_0": "very large, extremely low quality loss - not recommended", "F16": "unquantised half precision",
    "BF16": "unquantised bfloat16", "F32": "unquantised full precision",
}
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "n_ctx")
_LOCAL = re.compile(r"^(?:[/.~]|[A-Za-z]:[\\/])|\\|/.*/")


def local_path(name: str) -> bool:
    """A model or dataset name that is a path on someone's disk, not a Hub id (`/home/me/llama`,
    `./out`, `outputs/run1/checkpoint-500`, `C:\\models\\x`)."""
    return bool(_LOCAL.search(name))


@dataclass
class Fact:
    path: tuple[Any, ...]  # the card field, e.g. ("parameters",) or ("prompt", "chat_template")
    value: Any
    file: str  # the folder's file it was read from


@dataclass
class Folder:
    root: Path
    facts: dict[tuple[Any, ...], Fact] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)  # file -> the chat template it carries
    stops: dict[str, list[int]] = field(default_factory=dict)  # file -> the end-of-sequence/turn ids it names
    tokens: dict[str, str] = field(default_factory=dict)  # bos_token / eos_token -> text (tokenizer_config.json)
    token_ids: dict[str, int] = field(default_factory=dict)  # added token text -> id (tokenizer_config.json)
    hub_ids: dict[str, str] = field(default_factory=dict)  # file -> the Hub id it names as the model's base
    ggufs: list[GGUFHeader] = field(default_factory=list)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # GPTQ/AWQ branch -> what its files say
    adapter: bool = False
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def where(self, name: str) -> str:
        return display(self.root / name)

    def add(self, path: tuple[Any, ...], value: Any, file: str) -> None:
        if value is not None and path not in self.facts:
            self.facts[path] = Fact(path, value, file)

    def within(self, path: Path) -> bool:
        """Whether ``path`` may be read: it is in the folder (or, a link, leads to a file of it, or of the
        Hub cache's repository it is a snapshot of); a link out of it is reported, never followed."""
        if inside(path, link_tree(self.root)):
            return True
        if not any(d.file == display(path) for d in self.diagnostics):
            self.diagnostics.append(error(Where(display(path)), codes.UNREADABLE,
                                          "a link out of the model folder; not followed"))
        return False

    def json(self, name: str, sub: Path | None = None) -> dict[str, Any] | None:
        path = (sub or self.root) / name
        if not os.path.lexists(path) or not self.within(path) or not path.is_file():
            return None
        text, diags = read_text(path, display(path), MAX_MODEL_CONFIG_BYTES)
        self.diagnostics += diags
        if text is None:
            return None
        try:
            data = loads_json(text)
        except ValueError as e:
            self.diagnostics.append(error(Where(display(path)), codes.UNREADABLE, f"not JSON: {e}"))
            return None
        return data if isinstance(data, dict) else None


def read_folder(root: Path) -> Folder:
    """Everything the folder says that a card writes too."""
    f = Folder(root)
    if not root.is_dir():
        f.diagnostics.append(error(Where(display(root)), codes.UNREADABLE, "the model folder does not exist"))
        return f
    _tokenizer(f)
    _configs(f)
    _weights(f)
    _quantized(f)
    _gguf(f)
    return f


def _dict(v: Any) -> dict[Any, Any]:
    return v if isinstance(v, dict) else {}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _ids(v: Any) -> list[int]:
    return [i for i in (v if isinstance(v, list) else [v]) if isinstance(i, int) and not isinstance(i, bool)]


def _token_text(v: Any) -> str | None:
    text = v.get("content") if isinstance(v, dict) else v
    return text if isinstance(text, str) else None


def _tokenizer(f: Folder) -> None:
    """The special tokens (their texts and ids) and every copy of the chat template the folder holds."""
    cfg = f.json("tokenizer_config.json") or {}
    _special_tokens(f, cfg)
    _templates(f, cfg)
    if "eos_token" in f.tokens and f.tokens["eos_token"] in f.token_ids:
        f.stops["tokenizer_config.json"] = [f.token_ids[f.tokens["eos_token"]]]
    if f.templates:
        first = next(iter(f.templates))
        f.add(("prompt", "chat_template"), f.templates[first], first)
        for key in ("bos_token", "eos_token"):
            f.add(("prompt", key), f.tokens.get(key), "tokenizer_config.json")


def _special_tokens(f: Folder, cfg: dict[str, Any]) -> None:
    specials = f.json("special_tokens_map.json") or {} if not {"bos_token", "eos_token"} <= set(cfg) else {}
    for key in ("bos_token", "eos_token"):
        if (t := _token_text(cfg.get(key, specials.get(key)))) is not None:
            f.tokens[key] = t
    for i, t in _dict(cfg.get("added_tokens_decoder")).items():
        if re.fullmatch(r"[0-9]{1,18}", str(i)) and (text := _token_text(t)) is not None:
            f.token_ids[text] = int(i)
    tj = f.root / "tokenizer.json"
    if not f.token_ids and f.tokens and tj.is_file() and tj.stat().st_size <= MAX_MODEL_CONFIG_BYTES:
        # transformers 5 keeps the added tokens in tokenizer.json alone (one too large is left unread, quietly)
        for t in _list((f.json("tokenizer.json") or {}).get("added_tokens")):
            if isinstance(t, dict) and isinstance(t.get("id"), int) and isinstance(t.get("content"), str):
                f.token_ids[t["content"]] = t["id"]


def _templates(f: Folder, cfg: dict[str, Any]) -> None:
    tmpl = cfg.get("chat_template")
    if isinstance(tmpl, list):  # named templates: the default one
        tmpl = next((t.get("template") for t in tmpl if isinstance(t, dict) and t.get("name") == "default"), None)
    if isinstance(tmpl, str):
        f.templates["tokenizer_config.json"] = tmpl
    jinja = f.root / "chat_template.jinja"
    if os.path.lexists(jinja) and f.within(jinja) and jinja.is_file():
        text, diags = read_text(jinja, display(jinja), MAX_MODEL_CONFIG_BYTES)
        f.diagnostics += diags
        if text is not None:
            f.templates["chat_template.jinja"] = text
    if (ct := (f.json("chat_template.json") or {}).get("chat_template")) and isinstance(ct, str):
        f.templates["chat_template.json"] = ct


def _configs(f: Folder) -> None:
    cfg = f.json("config.json") or {}
    f.add(("model_type",), cfg.get("model_type"), "config.json")
    ctx = next((cfg[k] for k in CONTEXT_KEYS if isinstance(cfg.get(k), int)), None)
    f.add(("context_length",), ctx, "config.json")
    if ids := _ids(cfg.get("eos_token_id")):
        f.stops["config.json"] = ids
    gen = f.json("generation_config.json") or {}
    if ids := _ids(gen.get("eos_token_id")):
        f.stops["generation_config.json"] = ids
    adapter = f.json("adapter_config.json")
    if adapter is not None:
        f.adapter = True
        base = adapter.get("base_model_name_or_path")
        if isinstance(base, str) and base and not local_path(base):
            f.hub_ids["adapter_config.json"] = base
            f.add(("base_model",), base, "adapter_config.json")
        f.add(("base_model_relation",), "adapter", "adapter_config.json")
        f.add(("library_name",), "peft", "adapter_config.json")
    name = cfg.get("_name_or_path")
    if isinstance(name, str) and name and not local_path(name) and "/" in name:
        f.hub_ids["config.json"] = name


def _weights(f: Folder) -> None:
    """Parameters and dtype from the safetensors headers (an adapter's, a quantised model's are not the model's)."""
    total, dtypes = 0, dict[str, int]()
    for path in sorted(p for p in f.root.glob("*.safetensors") if f.within(p) and p.is_file()):
        try:
            st = safetensors_header(path)
        except (HeaderError, OSError) as e:
            f.diagnostics.append(error(Where(display(path)), codes.UNREADABLE, f"safetensors header: {e}"))
            return
        total += st.parameters
        for k, n in st.dtypes.items():
            dtypes[k] = dtypes.get(k, 0) + n
    if not total or f.adapter:
        return
    files = sorted(p.name for p in f.root.glob("*.safetensors"))
    label = files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} more"
    if _quant_config(f, f.root) is None:
        f.add(("parameters",), human_count(total), label)
        main = max(dtypes, key=lambda k: dtypes[k])
        f.add(("usage", "dtype"), DTYPES.get(main), label)


def _quant_config(f: Folder, where: Path) -> tuple[dict[str, Any], str] | None:
    qc = f.json("quantize_config.json", where)
    if qc is not None:
        return qc, "quantize_config.json"
    q = (f.json("config.json", where) or {}).get("quantization_config")
    return (q, "config.json") if isinstance(q, dict) else None


def _branch_size(where: Path) -> int:
    return sum(p.stat().st_size for p in where.iterdir()
               if p.suffix in (".safetensors", ".bin") and inside(p, link_tree(where)) and p.is_file())


def _quantized(f: Folder) -> None:
    """GPTQ/AWQ: the folder is the `main` branch; a subfolder with its own quantisation config, the branch it names."""
    places = [("main", f.root)] + [(p.name, p) for p in sorted(f.root.iterdir()) if p.is_dir() and f.within(p)]
    method = None
    for branch, where in places:
        found = _quant_config(f, where)
        if found is None:
            continue
        q, file = found
        kind = str(q.get("quant_method") or ("gptq" if "desc_act" in q else "")).upper()
        if kind not in ("GPTQ", "AWQ") or (method and kind != method):
            continue
        method = kind
        f.variants[branch] = _variant(kind, q, branch, _branch_size(where), file)
    if method:
        ctx = f.facts.get(("context_length",))
        rows = [{k: v for k, v in row.items() if not k.startswith("_")} for row in f.variants.values()]
        for row in rows:
            if method == "GPTQ" and "seq_len" not in row and ctx is not None:
                row["seq_len"] = ctx.value
        label = "quantize_config.json" if any(r.get("_file") == "quantize_config.json"
                                              for r in f.variants.values()) else "config.json"
        f.add(("quantization",), {"method": method, "variants": rows}, f"{label} and the weights' sizes")


def _variant(kind: str, q: dict[str, Any], branch: str, size: int, file: str) -> dict[str, Any]:
    row: dict[str, Any] = {"branch": branch, "bits": q.get("bits")}
    gs = q.get("group_size", q.get("q_group_size"))
    if kind == "GPTQ":
        row |= {"group_size": None if gs in (-1, None) else gs, "act_order": bool(q.get("desc_act", False)),
                "damp_percent": q.get("damp_percent", 0.01)}
        if isinstance(q.get("dataset"), str):
            row["dataset"] = q["dataset"]
        if isinstance(q.get("model_seqlen"), int):
            row["seq_len"] = q["model_seqlen"]
    else:
        row |= {"group_size": gs if isinstance(gs, int) else 128,
                "version": str(q.get("version", "GEMM")).upper(), "zero_point": bool(q.get("zero_point", True))}
    row["size"] = human_size(size)
    row["_file"] = file
    return row


def _gguf(f: Folder) -> None:
    paths = sorted(p for p in f.root.glob("*.gguf") if f.within(p) and p.is_file())
    if not paths:
        return
    import importlib.util

    if importlib.util.find_spec("gguf") is None:
        f.diagnostics.append(error(Where(display(paths[0])), codes.UNREADABLE,
                                   "the gguf package is needed to read GGUF headers: `python -m pip install gguf`"))
        return
    for path in paths:
        try:
            f.ggufs.append(gguf_header(path))
        except (HeaderError, OSError) as e:
            f.diagnostics.append(error(Where(display(path)), codes.UNREADABLE, str(e)))
    rows = []
    for g in f.ggufs:
        arch = g.meta.get("general.architecture")
        f.add(("model_type",), arch, g.file)
        f.add(("parameters",), human_count(g.parameters) if g.parameters else None, g.file)
        f.add(("context_length",), g.meta.get(f"{arch}.context_length"), g.file)
        if isinstance(t := g.meta.get("tokenizer.chat_template"), str):
            f.templates[g.file] = t
        stops = [g.meta[k] for k in ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                                     "tokenizer.ggml.eom_token_id") if isinstance(g.meta.get(k), int)]
        if stops:
            f.stops[g.file] = list(dict.fromkeys(stops))
        quant = g.quant or "F32"
        rows.append({"file": g.file, "quant_method": quant, "bits": quant_bits(quant) or 16,
                     "size": human_size(g.size)})
    if rows:
        f.add(("quantization",), {"method": "GGUF", "files": rows}, "the GGUF headers and sizes")
        f.add(("base_model_relation",), "quantized", "the GGUF headers")


def fill_row(row: dict[str, Any], method: str) -> dict[str, Any]:
    """A computed row with what only the author knows filled in for a new card (llama.cpp's words for a use)."""
    if method == "GGUF":
        return row | {"max_ram": "TODO: RAM needed without GPU offloading",
                      "use_case": USE_CASES.get(row["quant_method"], "TODO: when to pick this file")}
    if method == "GPTQ":
        row = row | {k: v for k, v in (("dataset", "TODO-calibration-dataset"), ("seq_len", 2048)) if k not in row}
        return row | {"description": f"{row['bits']}-bit" + (", with Act Order" if row["act_order"] else "")
                      + (f" and group size {row['group_size']}g." if row["group_size"] else ".")}
    return row
