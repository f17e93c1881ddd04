"""What a model file says about itself, from its header alone (no weights read): a safetensors file's
JSON header (its length prefix bounded by ``limits.MAX_SAFETENSORS_HEADER``), a GGUF file's metadata
and tensor table (the `gguf` package), and the sizes and counts written the way cards write them."""

from __future__ import annotations

import math
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.files import loads_json
from cardgen.limits import MAX_SAFETENSORS_HEADER

#: safetensors dtype -> the torch dtype name a card's `usage.dtype` takes
DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64", "F8_E4M3": "float8_e4m3fn",
          "F8_E5M2": "float8_e5m2", "I8": "int8", "U8": "uint8"}


class HeaderError(ValueError):
    """A file whose header cannot be read as its format says."""


@dataclass
class Safetensors:
    parameters: int
    dtypes: dict[str, int]  # safetensors dtype -> parameters of that dtype


def safetensors_header(path: Path) -> Safetensors:
    """Parameter count and dtypes from a safetensors file's header (8-byte little-endian length, then JSON)."""
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise HeaderError("shorter than a safetensors header")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_SAFETENSORS_HEADER:
            raise HeaderError(f"header of {n} bytes (more than {MAX_SAFETENSORS_HEADER})")
        raw = f.read(n)
        size = os.fstat(f.fileno()).st_size
    try:
        data = loads_json(raw)
    except ValueError as e:
        raise HeaderError(f"header is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise HeaderError("header is not a JSON object")
    out = Safetensors(0, {})
    for name, t in data.items():
        if name == "__metadata__" or not isinstance(t, dict):
            continue
        shape, dtype = t.get("shape"), t.get("dtype")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise HeaderError(f"tensor {name!r} has no valid shape")
        count = math.prod(shape)
        out.parameters += count
        out.dtypes[str(dtype)] = out.dtypes.get(str(dtype), 0) + count
    if out.parameters > 2 * size:  # the narrowest dtype (F4) holds two values a byte
        raise HeaderError(f"the header describes more values than the file's {size:,} bytes hold")
    return out


@dataclass
class GGUFHeader:
    """What llama.cpp reads from a GGUF file's metadata, as plain values."""

    file: str
    size: int
    parameters: int
    quant: str | None  # e.g. Q4_K_M, from general.file_type
    meta: dict[str, Any] = field(default_factory=dict)  # key -> value, token lists left out
    tokens: list[str] = field(default_factory=list)  # tokenizer.ggml.tokens

    def token(self, key: str) -> str | None:
        i = self.meta.get(key)
        return self.tokens[i] if isinstance(i, int) and 0 <= i < len(self.tokens) else None


#: the bytes of each GGUF value type that has a fixed size (8: a string, 9: an array, have not)
_GGUF_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_lengths(path: Path) -> None:
    """HeaderError where a GGUF file's header claims more than the file holds (a string, an array, a count
    of entries or tensors longer than the bytes left): the `gguf` package walks such a claim element by
    element, for hours and without bound on memory. Every length of the metadata is checked against the
    file's size before the package reads it."""
    import mmap

    if path.stat().st_size < 24:
        return  # too short for GGUF (and too short to map): the package says so
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        size = len(m)

        def take(pos: int, n: int) -> int:
            if n < 0 or pos + n > size:
                raise HeaderError(f"the header claims more than the file's {size:,} bytes hold (at byte {pos:,})")
            return pos + n

        def u(pos: int, fmt: str) -> tuple[int, int]:
            end = take(pos, struct.calcsize(fmt))
            return struct.unpack_from(fmt, m, pos)[0], end

        def value(pos: int, kind: int, depth: int) -> int:
            if kind in _GGUF_SIZES:
                return take(pos, _GGUF_SIZES[kind])
            if kind == 8:
                n, pos = u(pos, "<Q")
                return take(pos, n)
            if kind != 9:
                raise HeaderError(f"value type {kind} at byte {pos:,} is not one GGUF has")
            if depth > 8:
                raise HeaderError(f"arrays nested more than 8 deep at byte {pos:,}")
            item, pos = u(pos, "<I")
            count, pos = u(pos, "<Q")
            if item in _GGUF_SIZES:
                return take(pos, count * _GGUF_SIZES[item])
            take(pos, count)  # each item takes a byte at least: a count past the end is refused before the walk
            for _ in range(count):
                pos = value(pos, item, depth + 1)
            return pos

        if size < 24 or m[:4] != b"GGUF" or struct.unpack_from("<I", m, 4)[0] < 2:
            return  # not GGUF (or version 1): the package says so
        tensors, kvs = struct.unpack_from("<QQ", m, 8)
        take(24, kvs * 13)  # a key's length, its type and a byte of value at least
        pos = 24
        for _ in range(kvs):
            n, pos = u(pos, "<Q")
            pos = take(pos, n)
            kind, pos = u(pos, "<I")
            pos = value(pos, kind, 0)
        take(pos, tensors * 24)  # a name's length, its dimensions' count, its type and offset at least


def gguf_header(path: Path) -> GGUFHeader:
    """A GGUF file's metadata and tensor table, read with the `gguf` package (memory-mapped, no weights)
    once its lengths are known to fit the file (``gguf_lengths``)."""
    import gguf  # the PyPI package

    gguf_lengths(path)
    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as e:  # noqa: BLE001 - whatever the reader raises on a file that is not GGUF
        raise HeaderError(f"does not read as GGUF: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    meta: dict[str, Any] = {}
    tokens: list[str] = []
    for name, fld in reader.fields.items():
        if name == "tokenizer.ggml.tokens":
            tokens = [str(t) for t in fld.contents()]
        elif not name.startswith("tokenizer.ggml.") or name.endswith("_id") or name.endswith(".model"):
            value = fld.contents()
            if not isinstance(value, list) or len(value) <= 64:
                meta[name] = value
    quant = None
    if isinstance(meta.get("general.file_type"), int):
        try:
            quant = gguf.LlamaFileType(meta["general.file_type"]).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            quant = None
    params = sum(int(t.n_elements) for t in reader.tensors)
    if quant is None and reader.tensors:  # no general.file_type: the type most of the weights have
        by_type: dict[str, int] = {}
        for t in reader.tensors:
            by_type[t.tensor_type.name] = by_type.get(t.tensor_type.name, 0) + int(t.n_elements)
        quant = max(by_type, key=lambda k: by_type[k])
    return GGUFHeader(path.name, path.stat().st_size, params, quant, meta, tokens)


_BITS = re.compile(r"^(?:I?Q|TQ)(\d)|^[FB]F?(\d+)$")


def quant_bits(quant: str) -> int | None:
    """The bits a GGUF quantisation's name says: Q4_K_M 4, IQ2_XS 2, F16 16, BF16 16, F32 32."""
    q = quant.upper()
    if q == "BF16":
        return 16
    m = _BITS.match(q)
    return int(m.group(1) or m.group(2)) if m else None


def human_size(n: int) -> str:
    """Bytes as cards write them: `105 MB` below a gigabyte, `40.66 GB` from one (decimal units)."""
    if n >= 1_000_000_000:
        return f"{n / 1e9:.2f} GB"
    if n >= 1_000_000:
        return f"{round(n / 1e6)} MB"
    return f"{max(1, round(n / 1e3))} kB"


def human_count(n: int) -> str:
    """A parameter count as cards write it, three significant figures: `6.74B`, `135M`, `1.23M`."""
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            v = n / div
            return f"{v:.3g}{unit}" if v < 1000 else f"{round(v)}{unit}"
    return str(n)


_COUNT = re.compile(r"^\s*~?(\d+(?:\.\d+)?)\s*([KMBT])\b", re.I)


def parse_count(text: str) -> float | None:
    """A card's `parameters` (`7B`, `135M`, `1.2M params`) as a number; None when it does not read as one."""
    m = _COUNT.match(text)
    if not m:
        return None
    return float(m.group(1)) * {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[m.group(2).upper()]
