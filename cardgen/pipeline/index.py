"""The scope's index: what a whole-scope run needs of every card folder, in one sealed value, so that a
folder none of whose inputs changed is replayed without reading its record or hashing its inputs.

A record (``records.Record``) holds while its inputs hash as they did (``graph``); hashing them means a
``stat`` and a hash per input, and replaying it means reading and unsealing its record: at 10,000
folders that is most of a run in which nothing changed. The index keeps, for each folder of the last
whole run, one line of text (split, not parsed: ``Head``) with what the run needs of its record, and for
each input (file, template folder) what tells a later run that it is as it was without hashing it:

* a file's ``stat`` signature (``stats``), kept only for a file last written well before it was hashed
  (a write sets the change time, which no program can set back, so a file written since has another
  signature: git's rule, with its margin for a write in the same tick of the clock); ``-`` for a path
  that was not there; a template folder's or shared entry's hash, taken again each run (``Hasher.sigs``
  and ``same``).
* Each signature is one this run checked or took before any worker read the file, so the content a
  folder's record was built from is the content the signature stands for.

A later whole run checks every kept signature (one ``lstat`` each), and a folder is *fresh by the index*
when its source files are as listed, its common input set is kept, and none of its inputs changed; the
others are judged from their records, as before (``incremental``). The index is not used (every folder
is judged from its record) when the shared sources are not as its run found them (an ``absent:`` input
is judged by them), when the walk followed a link to a folder (a path then does not say where its file
is), or when it does not read back under the store's seal. A folder is not vouched for when a folder on
the way to one of its inputs has become a link (a folder moved keeps its files' signatures, not where they
are). A folder is left out of it, and so judged from its record next time, when one of its inputs has no
signature this run could check (written in the last seconds, read by a build in this process, a link),
when its record has errors, or when a path it names holds a character the lines use as separators.

A folder whose record has diagnostics or extra files to replay has no line (it is judged from its record);
the risk facts of a risk-bearing folder are kept as JSON, read only when the catalogue is judged again.
The lines are kept in 256 values by a hash of the folder's path (``chunk``), so that a run that changes a
few folders writes a few values again; the first value holds the layout's version, the shared sources'
key and the common sets' signatures.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cardgen.diagnostics import Diagnostic
from cardgen.pipeline.graph import ABSENT, DIR, ENTRY, Hasher, bare, sha
from cardgen.pipeline.records import Record, Rendered, Target, facts_out
from cardgen.rules.registry import RiskFacts

FIELD, ITEM, PART, SUB = "\t", "\x1e", "\x1f", "\x1d"
#: characters a line cannot hold in a value: a folder naming one is left out of the index
SEPARATORS = frozenset("\t\n\r\x1d\x1e\x1f\0")

#: the version of the lines' layout: an index in another is not read
VERSION = "2"

#: a line's fields: folder, source names, common set, digest, own inputs, READMEs, repo ids, risk facts
FIELDS = 8


def _clean(*values: str) -> bool:
    return not any(SEPARATORS.intersection(v) for v in values)


class _Paths(dict[str, tuple[Any, ...]]):
    """A node path's JSON read once per distinct text (most are the same few)."""

    def __missing__(self, key: str) -> tuple[Any, ...]:
        value = self[key] = tuple(json.loads(key))
        return value


@dataclass
class Head:
    """A folder's line of the index, read as the record it stands for: the fields a run needs, each taken
    from the line when first asked for (``Record``'s, for a run's checks over all folders)."""

    folder: str
    fields: list[str]
    paths: _Paths
    _rendered: list[Rendered] | None = field(default=None, repr=False)
    _own: list[str] | None = field(default=None, repr=False)

    errors = False
    diags: list[Diagnostic] = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        return self.fields[1].split(ITEM) if self.fields[1] else []

    @property
    def set_id(self) -> str:
        return self.fields[2]

    @property
    def digest(self) -> str:
        return self.fields[3]

    @property
    def own(self) -> list[str]:
        if self._own is None:
            self._own = [p for p, _ in _own_inputs(self.folder, self.fields[4])]
        return self._own

    @property
    def absent(self) -> bool:
        """Whether it has ``absent:`` inputs (names its cards found in no shared file)."""
        return ABSENT in self.fields[4]

    @property
    def risk(self) -> bool:
        return bool(self.fields[7])

    @property
    def rendered(self) -> list[Rendered]:
        if self._rendered is None:
            out = []
            for item in self.fields[5].split(ITEM) if self.fields[5] else []:
                repo, digest, file, path, files = item.split(PART)
                out.append(Rendered(repo, digest, [], files.split(SUB) if files else [], (file, self.paths[path])))
            self._rendered = out
        return self._rendered

    @property
    def targets(self) -> list[Target]:
        out = []
        for item in self.fields[6].split(ITEM) if self.fields[6] else []:
            repo, file, path = item.split(PART)
            out.append(Target(repo, file, self.paths[path]))
        return out

    @property
    def facts(self) -> list[RiskFacts]:
        from cardgen.pipeline.records import facts_in

        found = [facts_in(f) for f in json.loads(self.fields[7])] if self.fields[7] else []
        return [f for f in found if f is not None]


def _own_inputs(folder: str, text: str) -> list[tuple[str, str | None]]:
    """A line's own inputs (its fifth field), as (input, signature): a path below the folder, or a
    ``dir:`` folder below it, with its signature; an ``absent:`` name with none."""
    prefix = folder + os.sep
    out: list[tuple[str, str | None]] = []
    for item in text.split(ITEM) if text else []:
        if item.startswith(ABSENT):
            out.append((item, None))
            continue
        rel, _, sig = item.partition(PART)
        out.append((DIR + prefix + rel[len(DIR):] if rel.startswith(DIR) else prefix + rel, sig))
    return out


def line(folder: str, rec: Record | Head, top: str, sigs: Mapping[str, str]) -> str | None:
    """A folder's line of the index (its own inputs with their signatures, from ``sigs``), or None when it
    has none: errors, an own input outside it or with no signature, a separator in a value."""
    if isinstance(rec, Head):
        return FIELD.join(rec.fields)
    if rec.errors or not folder.startswith(top) or not _clean(folder, *rec.files, rec.set_id, rec.digest):
        return None
    prefix = folder + os.sep
    own = []
    for p in rec.own:
        if p.startswith(ABSENT):
            if not _clean(p):
                return None
            own.append(p)
            continue
        path, sig = bare(p), sigs.get(p)
        if not path.startswith(prefix) or sig is None or not _clean(path, sig):
            return None
        own.append((DIR if p.startswith(DIR) else "") + path[len(prefix):] + PART + sig)
    rendered, targets = [], []
    for r in rec.rendered:
        path = json.dumps(list(r.where[1]))
        if r.digest is None or not _clean(r.repo, r.where[0], path, *r.files):
            return None
        rendered.append(PART.join([r.repo, r.digest, r.where[0], path, SUB.join(r.files)]))
    for t in rec.targets:
        path = json.dumps(list(t.path))
        if not _clean(t.repo, t.file, path):
            return None
        targets.append(PART.join([t.repo, t.file, path]))
    quiet = not rec.diags and not any(r.diags or r.extras for r in rec.rendered)
    if not quiet:  # judged from its record: it has diagnostics or extra files to replay
        return None
    facts = json.dumps([facts_out(f) for f in rec.facts]) if rec.facts else ""
    return FIELD.join([folder[len(top):], ITEM.join(rec.files), rec.set_id, rec.digest, ITEM.join(own),
                       ITEM.join(rendered), ITEM.join(targets), facts])


def chunk(rel: str) -> str:
    """Which of the index's values a folder's line is kept in (by its path below the cards folder): a run
    that changes a few folders writes a few values again."""
    return "index:" + sha(rel)[:CHUNK_DIGITS]


#: the index's lines are kept in 16 ** CHUNK_DIGITS values
CHUNK_DIGITS = 2


def _key(n: int) -> str:
    return f"index:{n:0{CHUNK_DIGITS}x}"


@dataclass
class Index:
    """The index as the last whole run left it (see the module's docstring)."""

    shared: str  # the key of the shared sources it was made with (``incremental._Shared``)
    lines: dict[str, str]  # folder (absolute) -> its line
    chunks: dict[str, str]  # folder (absolute) -> the value its line is kept in
    sigs: dict[str, str]  # a path of a common input set -> its signature (``Hasher.sigs``)
    kept: dict[str, str]  # the values as stored (key -> text)
    verified: dict[str, str] = field(default_factory=dict)  # the signatures this run found good
    root: str = ""  # the cards folder (absolute)

    @classmethod
    def parse(cls, root: str, kept: Mapping[str, str]) -> Index | None:
        """The index from its stored values (``blobs``), or None when there is none of this layout."""
        head = kept.get("index")
        if head is None:
            return None
        top, _, flat = head.partition("\n")
        parts = top.split(FIELD)
        if len(parts) != 2 or parts[0] != VERSION:
            return None
        sigs = flat.split("\0") if flat else []
        if len(sigs) % 2:
            return None
        lines, chunks = {}, {}
        for key, value in kept.items():
            if key == "index" or not value:
                continue
            for ln in value.split("\n"):
                folder = os.path.join(root, ln.partition(FIELD)[0])
                lines[folder], chunks[folder] = ln, key
        return cls(parts[1], lines, chunks, dict(zip(sigs[::2], sigs[1::2], strict=True)), dict(kept), root=root)

    def fresh(self, folders: list[str], names: Mapping[str, list[str]], sets: Mapping[str, list[str]],
              hasher: Hasher) -> dict[str, Head]:
        """The folders the index vouches for: source files as listed, the common set kept, and every input
        with the signature kept for it (a common set's paths each checked once; the good ones go to
        ``verified``)."""
        paths = _Paths()
        good: dict[str, bool] = {}
        # a file's signature says it is as it was only while its path leads where it did: no folder on the
        # way may have become a link (a folder moved elsewhere keeps its files' signatures). The card folders
        # are as the walk found them (no link on the way: ``walked.LINKED``); a folder below one, or below
        # the cards folder, is asked once; one outside the cards folder must be its own real path.
        top = self.root.rstrip(os.sep)
        plain: dict[str, bool] = dict.fromkeys(folders, True)
        plain[top] = True

        def unlinked(d: str) -> bool:
            ok = plain.get(d)
            if ok is None:
                if not d.startswith(top + os.sep):
                    ok = hasher.real_folder(d) == d
                else:
                    try:
                        ok = not stat.S_ISLNK(os.lstat(d).st_mode)
                    except OSError:
                        ok = True  # not there: the path is not there either, wherever its parent leads
                    ok = ok and unlinked(os.path.dirname(d))
                plain[d] = ok
            return ok

        def checked(p: str, sig: str) -> bool:
            if not p.startswith((DIR, ENTRY)) and not unlinked(os.path.dirname(p)):
                return False
            return hasher.same(p, sig)

        def same(p: str) -> bool:
            ok = good.get(p)
            if ok is None:
                sig = self.sigs.get(p)
                ok = good[p] = sig is not None and checked(p, sig)
                if ok:
                    self.verified[p] = self.sigs[p]
            return ok

        set_ok: dict[str, bool] = {}
        out: dict[str, Head] = {}
        for folder in folders:
            ln = self.lines.get(folder)
            if ln is None:
                continue
            fields = ln.split(FIELD)
            if len(fields) != FIELDS or fields[1] != ITEM.join(names.get(folder, ())) or fields[2] not in sets:
                continue
            if fields[2] not in set_ok:
                set_ok[fields[2]] = all(same(p) for p in sets[fields[2]] if not p.startswith(ABSENT))
            if not set_ok[fields[2]]:
                continue
            own = _own_inputs(folder, fields[4])
            if all(sig is None or checked(path, sig) for path, sig in own):
                out[folder] = Head(folder, fields, paths, _own=[path for path, _ in own])
        return out


def values(root: str, ordered: Iterable[tuple[str, Record | Head]], sets: Mapping[str, list[str]],
            sigs: Mapping[str, str], shared: str, old: Index | None) -> dict[str, str]:
    """The index's values to store after a whole run, those that differ from the kept ones ("" empties
    one): a line for each folder whose every input has a signature this run found good or took before any
    build read it (``sigs``: the index's ``verified`` and ``Hasher.sigs``, taken before the stale folders
    were built), each in its chunk (``chunk``), and the signatures of the common sets' paths."""
    top = root.rstrip(os.sep) + os.sep
    chunks: dict[str, list[str]] = {}
    kept: dict[str, str] = {}
    common: dict[str, dict[str, str] | None] = {}  # set id -> the signatures of its paths (None: not all)

    def signed(paths: Iterable[str]) -> dict[str, str] | None:
        found = {}
        for p in paths:
            if p.startswith(ABSENT):
                continue
            sig = sigs.get(p)
            if sig is None or "\0" in p or "\n" in p:
                return None
            found[p] = sig
        return found

    # a value whose folders are all vouched for by the index, as they were, is as it was: only the others
    # are made again
    every = list(ordered)
    dirty: set[str] | None = None
    if old is not None:
        heads = {folder for folder, rec in every if isinstance(rec, Head)}
        dirty = {old.chunks[f] for f in old.lines if f not in heads}
        dirty |= {chunk(folder[len(top):]) for folder, rec in every if not isinstance(rec, Head)}
    for folder, rec in every:
        if rec.set_id not in common:
            common[rec.set_id] = signed(sets.get(rec.set_id, []))
        theirs = common[rec.set_id]
        if theirs is None:
            continue
        kept.update(theirs)
        key = old.chunks[folder] if old is not None and isinstance(rec, Head) else chunk(folder[len(top):])
        if dirty is not None and key not in dirty:
            continue
        ln = line(folder, rec, top, sigs)
        if ln is not None:
            chunks.setdefault(key, []).append(ln)
        else:
            chunks.setdefault(key, [])
    out = {"index": FIELD.join([VERSION, shared]) + "\n" + "\0".join(x for item in kept.items() for x in item)}
    out.update((k, "\n".join(v)) for k, v in chunks.items())
    if old is None:  # what an index that could not be read left is emptied: no line of it outlives this one
        before: dict[str, str] = {}
        out.update((k, "") for k in map(_key, range(16 ** CHUNK_DIGITS)) if k not in out)
    else:
        before = old.kept
        out.update((k, "") for k in dirty or () if k not in out)
    return {k: v for k, v in out.items() if before.get(k) != v}

