"""Where `cardgen import` writes, and how. Every write lands inside `--out`: a link on the way to a card
folder, its templates or the shared file that leads out of it is refused before anything is written. A
card folder that holds anything is never written over without ``force``; with it, the folder is replaced
as a whole (a `card.yml`, a `risks.yaml` or a template of the old card does not stay beside the new
one). The shared file is merged entry by entry: the entries it holds stay (other cards name them), and
each entry added is named."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from cardgen.diagnostics import plural
from cardgen.files import atomic_write, display, escaping_link, files_below, replace_folder
from cardgen.importing.imported import Imported, ImportError_, dump, sources, write_sources
from cardgen.importing.share import Shared
from cardgen.limits import IMPORT_GROWTH, IMPORT_GROWTH_SLACK, MAX_FILE_BYTES
from cardgen.loading.yamlpos import load, plain

#: the shared file import writes, in the cards folder
SHARED_FILE = Path("_shared") / "imported.yaml"
_HEAD = "# Imported by cardgen: facts that several imported cards share\n"


@dataclass
class Written:
    """What an import wrote: each card's card.yaml, and the entries added to the shared file."""

    targets: list[Path]
    added: list[str] = field(default_factory=list)  # `kind/id` of each entry added to the shared file
    kept: int = 0  # entries the shared file held already, kept as they were
    shared_file: Path | None = None
    replaced: dict[Path, list[str]] = field(default_factory=dict)  # card folder -> the files it held (--force)


def confined(out: Path, paths: list[Path]) -> None:
    """Refuse (before anything is written) a path to write whose way down from ``out`` passes a link
    that leads out of it, and an ``out`` that is not a folder."""
    if out.exists() and not out.is_dir():
        raise ImportError_(f"--out {display(out)} is not a folder")
    for p in paths:
        if (link := escaping_link(p, out)) is not None:
            raise ImportError_(f"{display(link)} is a link out of {display(out)}: import writes only inside --out "
                               "(remove the link, or give --out the folder it leads to)")


def _readable(where: Path, name: str, text: str) -> None:
    """Refuse a source that cardgen could not read back: over its size bound, or (YAML) over its shape's."""
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise ImportError_(f"{display(where / name)} would be {size:,} bytes, over the {MAX_FILE_BYTES:,} that cardgen "
                           "reads: nothing written")
    if name.endswith(".yaml"):
        _, diags = plain(text, name)
        if bounds := [d for d in diags if d.code in ("CG001", "CG006")]:
            raise ImportError_(f"{display(where / name)} would be refused when read ({bounds[0].message}): nothing "
                               "written")


def _grown(imp: Imported, files: dict[str, str]) -> None:
    """A card whose sources are many times the size of the README they come from, reported."""
    size, base = sum(len(t.encode("utf-8")) for t in files.values()), len(imp.original.encode("utf-8"))
    if size > IMPORT_GROWTH * base + IMPORT_GROWTH_SLACK:
        imp.problems.append(f"the sources are {size:,} bytes, {size / max(base, 1):.0f} times the README's {base:,} "
                            "(text YAML can only hold escaped, or many short sections): read card.yaml before you "
                            "publish from it")


def _occupied(folders: list[Path], force: bool) -> dict[Path, list[str]]:
    """Refuse card folders that hold anything, unless ``force``; the files each holds (to be replaced)."""
    held = [(f, files_below(f)) for f in folders if f.is_symlink() or f.exists()]
    held = [(f, below) for f, below in held if below]
    if held and not force:
        folder, below = held[0]
        names = ", ".join(str(p.relative_to(folder)) if p != folder else p.name for p in below[:3])
        more = f" and {len(below) - 3} more" if len(below) > 3 else ""
        also = f" ({plural(len(held) - 1, 'other card folder')} too)" if len(held) > 1 else ""
        raise ImportError_(f"{display(folder)} holds sources ({names}{more}){also}; pass --force to replace each "
                           "card folder as a whole")
    return {f: [str(p.relative_to(f)) if p != f else p.name for p in below] for f, below in held}


def _merged_shared(path: Path, new: Shared) -> tuple[dict[str, Any], int]:
    """The shared file's entries with ``new`` added (none replaced: a new entry's id is one the file
    does not hold), and how many it held."""
    if not path.exists():
        return {k: v for k, v in new.items() if v}, 0
    doc, diags = load(path)
    data = None if doc is None else doc.data
    if not isinstance(data, dict):
        why = diags[0].message if diags else "not a mapping of kinds to entries"
        raise ImportError_(f"{display(path)}: {why}; fix it (or move it aside) to merge the shared facts into it")
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    held = sum(len(v) for v in merged.values() if isinstance(v, dict))
    for kind, entries in new.items():
        if not entries:
            continue
        box = merged.setdefault(kind, {})
        if not isinstance(box, dict):
            raise ImportError_(f"{display(path)}: `{kind}` is not a mapping of ids to entries; fix it to merge into it")
        box.update(entries)
    return merged, held


def write(out: Path, cards: list[Imported], new_shared: Shared, force: bool) -> Written:
    """Each card's sources in its folder under ``out`` (replacing the folder as a whole, only with
    ``force`` when it holds anything) and the new shared entries merged into the shared file (written
    over only with ``force``); all refusals come before the first write."""
    folders = [out / imp.repo_id for imp in cards]
    files = {f: sources(imp, imp.partials, imp.card) for f, imp in zip(folders, cards, strict=True)}
    shared_path = out / SHARED_FILE
    adding = [f"{kind}/{k}" for kind, entries in new_shared.items() for k in entries]
    confined(out, [f / name for f in folders for name in files[f]] + ([shared_path] if adding else []))
    for folder, imp in zip(folders, cards, strict=True):
        for name, text in files[folder].items():
            _readable(folder, name, text)
        _grown(imp, files[folder])
    written = Written([f / "card.yaml" for f in folders], replaced=_occupied(folders, force))
    if adding:
        if shared_path.exists() and not force:
            n = len(adding)
            raise ImportError_(f"{display(shared_path)} exists: pass --force to add {n} entr{'y' if n == 1 else 'ies'} "
                               f"to it ({', '.join(adding[:3])}{', ...' if n > 3 else ''}); the entries it holds "
                               "are kept")
        merged, written.kept = _merged_shared(shared_path, new_shared)
        written.added, written.shared_file = adding, shared_path
        shared_text = _HEAD + dump(merged)
        _readable(out, str(SHARED_FILE), shared_text)
    for folder in folders:
        replace_folder(folder, partial(write_sources, files=files[folder]))
    if adding:
        atomic_write(shared_path, shared_text)
    return written
