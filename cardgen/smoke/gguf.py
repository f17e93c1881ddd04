"""A GGUF card's files, judged by their headers (read with the `gguf` package): no weights are loaded."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from cardgen.card import Card
from cardgen.schema import GGUF
from cardgen.smoke.result import SmokeResult, first_line


def run_gguf(card: Card, source: str, r: SmokeResult) -> None:
    """A GGUF card: every listed file is in the model folder, reads as GGUF, and is of the listed
    quantisation (the llama-cpp snippet runs where llama-cpp-python is installed)."""
    q = card.model.quantization
    assert isinstance(q, GGUF)
    r.dtype = "gguf"
    if importlib.util.find_spec("gguf") is None:
        r.failures.append("the gguf package is needed to read GGUF headers: `python -m pip install gguf`")
        return
    import gguf  # the PyPI package (an absolute import: not this module)

    t0 = time.perf_counter()
    before = len(r.failures)
    for f in q.files:
        path = Path(source) / f.file
        if not path.is_file():
            r.failures.append(f"{f.file} is listed but not in {source}")
            continue
        try:
            reader = gguf.GGUFReader(str(path))
            fld = reader.get_field("general.file_type")
            kind = gguf.LlamaFileType(int(fld.parts[fld.data[0]][0])).name if fld else None
        except Exception as e:  # noqa: BLE001 - a file that does not parse, whatever the reader raises
            r.failures.append(f"{f.file} does not read as GGUF: {first_line(e)}")
            continue
        if kind is None:
            r.warnings.append(f"{f.file} does not say its quantisation (no general.file_type)")
        elif kind.removeprefix("MOSTLY_").removeprefix("ALL_") != f.quant_method.upper():
            r.failures.append(f"{f.file} is listed as {f.quant_method} but its header says "
                              f"{kind.removeprefix('MOSTLY_').removeprefix('ALL_')}")
    r.check("GGUF files", before)
    r.load_s = round(time.perf_counter() - t0, 3)
    r.output = f"{len(q.files)} file(s) checked"
