"""A GGUF card's files, judged by their headers (read with the `gguf` package): no weights are loaded."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from cardgen.card import Card
from cardgen.schema import GGUF
from cardgen.smoke import codes
from cardgen.smoke.result import SmokeResult, first_line


def run_gguf(card: Card, source: str, r: SmokeResult) -> None:
    """A GGUF card: every listed file is in the model folder, reads as GGUF, and is of the listed
    quantisation (the llama-cpp snippet runs where llama-cpp-python is installed)."""
    q = card.model.quantization
    assert isinstance(q, GGUF)
    r.dtype = "gguf"
    before = len(r.failures)
    used = usage_file(card, source, r)
    if importlib.util.find_spec("gguf") is None:
        r.fail(codes.GGUF_FILE, "the gguf package is needed to read GGUF headers: `python -m pip install gguf`")
        return
    import gguf  # the PyPI package (an absolute import: not this module)

    t0 = time.perf_counter()
    for f in q.files:
        path = Path(source) / f.file
        if not path.is_file():
            r.fail(codes.GGUF_USAGE_FILE if f.file == used else codes.GGUF_FILE,
                   f"{f.file} is listed but not in {source}" + (" (the usage snippet downloads it)"
                                                                if f.file == used else ""))
            continue
        try:
            reader = gguf.GGUFReader(str(path))
            fld = reader.get_field("general.file_type")
            kind = gguf.LlamaFileType(int(fld.parts[fld.data[0]][0])).name if fld else None
        except Exception as e:  # noqa: BLE001 - a file that does not parse, whatever the reader raises
            r.fail(codes.GGUF_FILE, f"{f.file} does not read as GGUF: {first_line(e)}")
            continue
        if kind is None:
            r.warnings.append(f"{f.file} does not say its quantisation (no general.file_type)")
        elif kind.removeprefix("MOSTLY_").removeprefix("ALL_") != f.quant_method.upper():
            r.fail(codes.GGUF_FILE, f"{f.file} is listed as {f.quant_method} but its header says "
                                    f"{kind.removeprefix('MOSTLY_').removeprefix('ALL_')}")
    r.check("GGUF files", before)
    r.load_s = round(time.perf_counter() - t0, 3)
    r.output = f"{len(q.files)} file(s) checked"


def usage_file(card: Card, source: str, r: SmokeResult) -> str | None:
    """The file the usage snippet downloads (`usage.file`, else the first listed): one the card lists; a
    failure when it is not (whether it is in the folder is the listed files' check)."""
    q, u = card.model.quantization, card.model.usage
    assert isinstance(q, GGUF)
    listed = [f.file for f in q.files]
    if u is None or not u.file:
        return listed[0]
    if u.file not in listed:
        there = (Path(source) / u.file).is_file()
        r.fail(codes.GGUF_USAGE_FILE, f"`usage.file` {u.file!r}, the file the snippet downloads, is not among "
                                      f"`quantization.files` ({', '.join(listed)})"
                                      + ("" if there else f", nor in {source}"))
    return u.file
