"""The card's facts from the folder, written down: `folder.yaml`, a file of the card folder that holds
the values read from the model folder (each line names the file it came from) and that `cardgen sync`
rewrites; what only the author knows stays in `card.yaml`. A card's own typed values elsewhere are never
overwritten: they are checked (``check``)."""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
from pathlib import Path
from typing import Any

from cardgen.folder.read import Folder, fill_row, read_folder
from cardgen.loading.yamlpos import plain

NAME = "folder.yaml"
HEADER = ("# Read from the model folder by cardgen; each value is followed by the file it came from.\n"
          "# `cardgen sync` rewrites this file: write what only you know in card.yaml.\n")
ORDER = ("model_dir", "model_type", "parameters", "context_length", "base_model", "base_model_relation",
         "library_name", "usage", "prompt", "quantization")
_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]*( [A-Za-z0-9_.\-/]+)*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}
_NOT_TEXT = re.compile(r"[-+.\d_:eE]+|0[xo][0-9a-fA-F_]+|\d{4}-\d\d?-\d\d?.*", re.S)  # numbers, dates


def _string(s: str) -> str:
    if _PLAIN.fullmatch(s) and s.lower() not in _RESERVED and not _NOT_TEXT.fullmatch(s):
        return s
    text = json.dumps(s, ensure_ascii=False)
    return "".join(c if ord(c) < 128 or c.isprintable() else
                   (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}") for c in text)


def _float(v: float) -> str:
    """A float as YAML 1.1 reads it back: `1e-05` (a string there) written `1.0e-05`, `nan` as `.nan`."""
    if v != v or v in (float("inf"), float("-inf")):
        return ".nan" if v != v else ".inf" if v > 0 else "-.inf"
    text = repr(v)
    mantissa, e, exp = text.partition("e")
    return f"{mantissa}.0e{exp}" if e and "." not in mantissa else text


def flow(v: Any) -> str:
    """A value as one line of YAML (flow style; strings plain when that is safe, else JSON-quoted)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return repr(v)
    if isinstance(v, float):
        return _float(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list):
        return "[" + ", ".join(flow(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_string(str(k))}: {flow(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no YAML for {type(v).__name__}")


def emit(data: dict[str, Any], notes: dict[tuple[Any, ...], str]) -> str:
    """`folder.yaml`'s text: ``data`` key by key, each value read from the folder followed by its file."""
    def note(path: tuple[Any, ...]) -> str:
        return f"  # {notes[path]}" if path in notes else ""

    lines = [HEADER.rstrip("\n")]
    for key in sorted(data, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k)):
        v = data[key]
        if not isinstance(v, dict) or not v:
            lines.append(f"{key}: {flow(v)}{note((key,))}")
            continue
        lines.append(f"{key}:{note((key,))}")
        for sub, x in v.items():
            if isinstance(x, list) and x and all(isinstance(r, dict) for r in x):
                lines.append(f"  {sub}:")
                lines += [f"    - {flow(r)}{note((key, sub, i))}" for i, r in enumerate(x)]
            else:
                lines.append(f"  {sub}: {flow(x)}{note((key, sub))}")
    text = "\n".join(lines) + "\n"
    back, problems = plain(text, NAME)
    if problems or back != data:  # a writer bug must not reach the user's card
        raise AssertionError(f"folder.yaml does not read back as written: {problems or back}")
    return text


def _table(old: dict[str, Any] | None, new: dict[str, Any], notes: dict[tuple[Any, ...], str]) -> dict[str, Any]:
    """The computed table, each row keeping what the author wrote in its old one (use case, RAM, description)."""
    method = new["method"]
    rows_key, key = ("files", "file") if method == "GGUF" else ("variants", "branch")
    before = {r.get(key): r for r in (old or {}).get(rows_key, []) if isinstance(r, dict)} \
        if isinstance(old, dict) and old.get("method") == method else {}
    out = {k: v for k, v in (old or {}).items() if k not in ("method", rows_key)} if before else {}
    rows = []
    for i, row in enumerate(new[rows_key]):
        was = before.get(row[key])
        rows.append(fill_row(dict(row), method) | ({k: v for k, v in was.items() if k not in row} if was else {}))
        if was:
            rows[-1] = {k: rows[-1][k] for k in [*was, *row] if k in rows[-1]}
        notes[("quantization", rows_key, i)] = row[key] if method == "GGUF" else f"{row[key]}: config and weights"
    return {"method": method, **out, rows_key: rows}


def facts_data(folder: Folder, keep: dict[str, Any], skip: set[str] = frozenset()  # type: ignore[assignment]
               ) -> tuple[dict[str, Any], dict[tuple[Any, ...], str]]:
    """``keep`` with the folder's facts written over it (top-level keys in ``skip`` left out); each fact's file."""
    data = copy.deepcopy(keep)
    notes: dict[tuple[Any, ...], str] = {}
    for path, fact in folder.facts.items():
        if path[0] in skip:
            continue
        if path == ("quantization",):
            data["quantization"] = _table(data.get("quantization"), fact.value, notes)
            continue
        where = data
        for p in path[:-1]:
            if not isinstance(where.get(p), dict):
                where[p] = {}
            where = where[p]
        where[path[-1]] = fact.value
        notes[path] = fact.file
    q = data.get("quantization")
    if isinstance(q, dict) and q.get("method") == "GGUF" and "usage" not in skip:
        files = [r["file"] for r in q["files"]]
        usage = data.setdefault("usage", {})
        if usage.get("file") not in files:
            usage["file"] = next((f for f in files if "Q4_K_M" in f), files[0])
    return data, notes


def relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()


def drop_keys(text: str, keys: set[str]) -> str:
    """YAML text without the top-level entries named (each with its indented lines and following comments)."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        top = re.match(r"^([A-Za-z_][A-Za-z0-9_]*):", line)
        if top:
            skipping = top.group(1) in keys
        elif line.strip() and not line.startswith((" ", "#", "-")):
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


def split_new(scaffold: str, folder: Folder, card_dir: Path) -> tuple[str, str]:
    """A new card's `card.yaml` (the scaffold, less what the folder says) and `folder.yaml`."""
    base, _ = plain(scaffold, "card.yaml")
    base = base if isinstance(base, dict) else {}
    taken = {p[0] for p in folder.facts}
    # the scaffold's values of the keys the folder takes (its example file table, never: the folder's is computed)
    keep = {"model_dir": relative(folder.root, card_dir)} | {k: base[k] for k in taken if k in base
                                                             and k != "quantization"}
    data, notes = facts_data(folder, keep)
    taken |= set(data)
    return drop_keys(scaffold, taken), emit(data, notes)


def sync_text(folder: Folder, card_dir: Path, typed_elsewhere: set[str], lacking: set[str]) -> tuple[str, str]:
    """(old, new) text of the card's `folder.yaml`: its keys, and the facts the card does not write
    (``lacking``: top-level keys the resolved card has no value for), rewritten from the folder."""
    path = card_dir / NAME
    old = path.read_text("utf-8") if path.is_file() else ""
    existing, _ = plain(old, str(path)) if old else ({}, [])
    existing = existing if isinstance(existing, dict) else {}
    skip = {p[0] for p in folder.facts if p[0] in typed_elsewhere or (p[0] not in existing and p[0] not in lacking)}
    data, notes = facts_data(folder, existing, skip)
    if "model_dir" not in typed_elsewhere:
        data["model_dir"] = relative(folder.root, card_dir)
    if set(data) <= {"model_dir"} and not old:
        return old, old
    return old, emit(data, notes)


def diff(old: str, new: str, name: str) -> list[str]:
    return [line.rstrip("\n") for line in difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                                f"a/{name}", f"b/{name}")]


def kind_of(folder: Folder) -> str:
    """The kind of card a folder calls for: its GGUF files, its quantisation, its chat template."""
    q = folder.facts.get(("quantization",))
    if q is not None:
        return str(q.value["method"]).lower()
    return "chat" if folder.templates else "base"


def from_folder(root: Path, kind: str | None) -> tuple[str, Any, list[Any]]:
    """`cardgen new --from`: the kind, the function that splits the scaffold into `card.yaml` and
    `folder.yaml`, and what reading the folder found."""
    folder = read_folder(root)
    kind = kind or kind_of(folder)

    def split(scaffold: str, card_dir: Path) -> tuple[str, str]:
        return split_new(scaffold, folder, card_dir)

    return kind, split, folder.diagnostics
