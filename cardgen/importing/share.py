"""Facts written in several imported cards (the same licence, the same BibTeX entry, the same free
section at the same place), moved to one shared file, `_shared/imported.yaml`, that each card names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cardgen.importing.imported import Imported
from cardgen.loading.yamlpos import load

Shared = dict[str, dict[str, Any]]  # kind (licenses, citations, sections) -> id -> entry


def _content(kind: str, entry: Any) -> str:
    """What a shared entry says, whatever its id: two entries that say the same are one."""
    import json

    if kind == "sections" and isinstance(entry, dict):
        entry = {k: v for k, v in entry.items() if k != "id"}
    return json.dumps(entry, sort_keys=True, default=str)


def share(imports: list[Imported], existing: Shared | None = None) -> Shared:
    """Facts written in several imported cards, moved to one shared file: the same licence, the same
    BibTeX entry, and the same free section at the same place. An entry that a shared file of the cards
    folder (``existing``) already holds is named by its id there; a new one takes an id that none holds.
    Returns the new entries (empty: nothing new to share)."""
    import hashlib
    import json

    existing = existing or {}
    cards = [imp for top in imports for imp in top.all()]
    shared: Shared = {"licenses": {}, "citations": {}, "sections": {}}
    taken = {str(k) for entries in existing.values() for k in entries}
    known = {kind: {_content(kind, v): str(k) for k, v in entries.items()} for kind, entries in existing.items()}

    def new_id(base: str) -> str:
        sid, n = base, 2
        while sid in taken:
            sid, n = f"{base}-{n}", n + 1
        taken.add(sid)
        return sid

    def pool(kind: str, places: Callable[[dict[str, Any]], list[tuple[Any, Any]]], name: str) -> None:
        """An entry (a mapping) written in two cards or more goes to ``shared[kind]`` under an id made
        from its ``name``; each place that held it (a container and its key) then holds the id."""
        def key(e: Any) -> str:
            return json.dumps(e, sort_keys=True) if isinstance(e, dict) else ""

        counts: dict[str, int] = {}
        for imp in cards:
            for k in {key(box[at]) for box, at in places(imp.card)} - {""}:
                counts[k] = counts.get(k, 0) + 1
        ids: dict[str, str] = {}
        for imp in cards:
            for box, at in places(imp.card):
                k = key(box[at])
                if counts.get(k, 0) >= 2:
                    if k not in ids and (old := known.get(kind, {}).get(_content(kind, box[at]))) is not None:
                        ids[k] = old
                    elif k not in ids:
                        ids[k] = new_id(str(box[at].get(name) or box[at].get("id")))
                        shared[kind][ids[k]] = box[at]
                    box[at] = ids[k]

    pool("licenses", lambda card: [(card, "license")] if "license" in card else [], "name")
    pool("citations", lambda card: [(card[f], i) for f in ("cite_as", "citations")
                                    for i in range(len(card.get(f) or []))], "key")
    # a free section is shared when two cards or more have the same text after the same slot, or after
    # the same section that is itself shared: its anchor is then the same name in every card
    def keys(secs: list[dict[str, Any]]) -> list[str]:
        out, prev = [], ""
        for sec in secs:
            anchor = prev if prev and sec["after"] not in SLOT_NAMES else sec["after"]
            prev = hashlib.sha256(json.dumps([sec["body"], anchor]).encode()).hexdigest()
            out.append(prev)
        return out

    from cardgen.sections import SECTION_NAMES as SLOT_NAMES

    counts: dict[str, int] = {}
    for imp in cards:
        for k in set(keys(imp.card.get("sections", []))):
            counts[k] = counts.get(k, 0) + 1
    taken |= {sec["id"] for imp in cards for sec in imp.card.get("sections", [])}
    moved: dict[str, str] = {}
    for imp in cards:
        secs = imp.card.get("sections", [])
        renamed: dict[str, str] = {}
        prev_shared = True
        for i, (sec, k) in enumerate(zip(secs, keys(secs), strict=True)):
            if sec["after"] in renamed:
                sec["after"] = renamed[sec["after"]]
            if counts[k] < 2 or not (prev_shared or sec["after"] in SLOT_NAMES):
                prev_shared = False
                continue
            if k not in moved and (old := known.get("sections", {}).get(_content("sections", sec))) is not None:
                moved[k] = old
            elif k not in moved:
                moved[k] = new_id(sec["id"])
                shared["sections"][moved[k]] = {**sec, "id": moved[k]}
            renamed[sec["id"]] = moved[k]
            secs[i] = moved[k]
            prev_shared = True
        if n := sum(isinstance(x, str) for x in secs):
            imp.recognised.append(f"{n} shared section{'s' * (n != 1)}")
    return {k: v for k, v in shared.items() if v}


def existing_entries(out: Path) -> Shared:
    """The entries the shared files of the cards folder ``out`` already hold, by kind and id (a link out
    of ``out`` is not read: `validate` refuses it too)."""
    from cardgen.files import escaping_link

    entries: Shared = {}
    folder = out / "_shared"
    if not folder.is_dir() or escaping_link(folder, out) is not None:
        return entries
    for f in sorted(folder.glob("*.y*ml")):
        if escaping_link(f, out) is not None:
            continue
        doc, _ = load(f)  # read as every shared file is: within cardgen's bounds
        data = None if doc is None else doc.data
        for kind, v in data.items() if isinstance(data, dict) else ():
            if isinstance(v, dict):
                entries.setdefault(str(kind), {}).update({str(k): e for k, e in v.items()})
    return entries

