"""Find source files under `cards/`, load them (YAML with positions) and build the models.

A card folder (`cards/<owner>/<name>/`) may split its card over several YAML files; their top-level
keys are merged, and a key given in two files is a duplicate. Files in `cards/_shared/` are shared
sources. Schema errors from pydantic are turned into diagnostics at the offending node, with a
suggestion for unknown keys.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cardgen.diagnostics import Diagnostic, Where, error
from cardgen.files import display
from cardgen.loading.scope import SHARED_DIR, Scope, yaml_files
from cardgen.loading.yamlpos import Document, load
from cardgen.schema import CardSource, SharedSource


@dataclass
class Source:
    """One card folder, or one shared file: merged data, the model, and where each key came from."""

    folder: Path
    docs: list[Document]
    data: dict = field(default_factory=dict)
    key_doc: dict[str, Document] = field(default_factory=dict)
    model: Any = None
    broken: set[tuple[str, str]] = field(default_factory=set)  # shared (kind, id) entries the schema refused

    @property
    def file(self) -> str:
        return self.docs[0].file if self.docs else display(self.folder)

    def doc_for(self, path: tuple) -> Document:
        if path and path[0] in self.key_doc:
            return self.key_doc[path[0]]
        return self.docs[0]

    def pos(self, path: tuple[Any, ...]) -> Where:
        d = self.doc_for(path)
        return Where(d.file, *d.pos(path))

    def key_pos(self, path: tuple[Any, ...]) -> Where:
        d = self.doc_for(path)
        return Where(d.file, *d.key_pos(path))


@lru_cache(maxsize=64)
def _real(root: Path) -> Path:
    return root.resolve()


def load_source(folder: Path, files: list[Path], kind: type[BaseModel], root: Path) -> tuple[Source, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    src = Source(folder, [])
    real_root = _real(root)
    for f in files:
        shown = display(f)
        # os.walk does not follow directory links, so only a linked file can lead outside
        outside = f.is_symlink() or not str(f.absolute()).startswith(str(real_root))
        if outside and real_root not in f.resolve().parents:
            diags.append(error(Where(shown), "CG304", f"{shown} resolves outside {display(root)}"))
            continue
        doc, d = load(f, shown)
        diags += d
        if doc is None:
            continue
        if not isinstance(doc.data, dict):
            diags.append(error(Where(shown, *doc.pos(())), "CG101",
                               f"the top level must be a mapping of keys, not a {_kind(doc.data)}"))
            continue
        src.docs.append(doc)
        for k, v in doc.data.items():
            if k in src.key_doc:
                first = src.key_doc[k]
                diags.append(error(Where(shown, *doc.key_pos((k,))), "CG005",
                                   f"key {k!r} is also given in {first.file}:{first.key_pos((k,))[0]}"))
                continue
            src.key_doc[k] = doc
            src.data[k] = v
    if src.docs:
        src.model, d = build_model(src, kind)
        diags += d
    return src, diags


def build_model(src: Source, kind: type[BaseModel]) -> tuple[BaseModel | None, list[Diagnostic]]:
    """Validate the merged data. On schema errors, report them all, then retry without what was
    refused (in a shared file, the one entry; in a card, the top-level key) so that the later checks
    still see (and report on) the rest, and one bad shared entry hides no other."""
    data, diags = dict(src.data), list[Diagnostic]()
    shared = kind is SharedSource
    for _ in range(4):
        try:
            return kind.model_validate(data), diags
        except ValidationError as e:
            if not diags:
                diags = schema_diagnostics(e, src, kind)
            locs = [tuple(err["loc"]) for err in e.errors() if err["loc"]]
            entries = {(str(loc[0]), str(loc[1])) for loc in locs if shared and len(loc) > 2
                       and isinstance(data.get(loc[0]), dict) and loc[1] in data[loc[0]]}
            if entries:
                src.broken |= entries
                data = {k: ({i: e for i, e in v.items() if (k, i) not in entries} if isinstance(v, dict) else v)
                        for k, v in data.items()}
                continue
            bad = {loc[0] for loc in locs}
            if not bad & set(data):
                break
            data = {k: v for k, v in data.items() if k not in bad}
    return None, diags


def _kind(v: Any) -> str:
    return {list: "list", dict: "mapping", str: "string", int: "integer", float: "number",
            bool: "boolean", type(None): "null"}.get(type(v), type(v).__name__)


def _data_path(data: Any, loc: tuple) -> tuple[tuple, bool]:
    """Follow a pydantic loc through the data, skipping union tags; (path, whether a tag was skipped)."""
    path, cur, tagged = [], data, False
    for i, part in enumerate(loc):
        if (isinstance(cur, dict) and part in cur
                or isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)):
            path.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and i + 1 == len(loc) or part == "[key]":
            path.append(part)  # a missing or extra key: the last element
        else:
            tagged = True
    return tuple(path), tagged


def _annotation_at(model: type[BaseModel], path: tuple) -> Any:
    """The annotation of what sits at ``path`` in the data of ``model`` (None when the path leaves it)."""
    ann: Any = model
    for part in path:
        ann = _descend(ann, part)
        if ann is None:
            return None
    return ann


def _fields_at(model: type[BaseModel], data: Any, path: tuple) -> list[str]:
    """Known keys of the model that sits at ``path`` (for 'did you mean')."""
    ann = _annotation_at(model, path)
    if ann is None:
        return []
    models = [a for a in _members(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
    return [n for m in models for n in m.model_fields]


def _members(ann: Any) -> list:
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(ann) for m in _members(a)]
    if origin is typing.Annotated:
        return _members(typing.get_args(ann)[0])
    return [ann]


def _descend(ann: Any, part: Any) -> Any:
    for a in _members(ann):
        origin = typing.get_origin(a)
        if isinstance(a, type) and issubclass(a, BaseModel) and isinstance(part, str) and part in a.model_fields:
            return a.model_fields[part].annotation
        if origin is list and isinstance(part, int):
            return typing.get_args(a)[0]
        if origin is dict and isinstance(part, str):
            return typing.get_args(a)[1]
    return None


def schema_diagnostics(exc: ValidationError, src: Source, model: type[BaseModel]) -> list[Diagnostic]:
    """Turn pydantic's errors into diagnostics at the node they concern, one per node."""
    errs = exc.errors(include_url=False)
    by_path: dict[tuple[Any, ...], list[tuple[Any, bool]]] = {}
    for e in errs:
        path, tagged = _data_path(src.data, tuple(e["loc"]))
        by_path.setdefault(path, []).append((e, tagged))
    out = []
    deep = set(by_path)
    for path, items in sorted(by_path.items(), key=lambda kv: str(kv[0])):
        # a union branch that went deeper into the value explains it better than the shallow ones
        if any(p[: len(path)] == path and len(p) > len(path) for p in deep) and all(t for _, t in items):
            continue
        e, _ = items[0]
        where = ".".join(str(p) for p in path) or "(top level)"
        if e["type"].startswith("CG"):  # our own validators name their code
            out.append(error(src.pos(path), e["type"], f"{where}: {e['msg']}"))
        elif e["type"] == "extra_forbidden":
            key = path[-1]
            known = _fields_at(model, src.data, path[:-1])
            hint = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            msg = f"unknown key {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else
                                             f"; known keys here: {', '.join(sorted(known)[:12])}")
            out.append(error(src.key_pos(path), "CG102", msg))
        elif e["type"] == "missing":
            parent = ".".join(map(str, path[:-1])) or "the top level"
            out.append(error(src.pos(path[:-1]), "CG103", f"missing required key {path[-1]!r} in {parent}"))
        elif e["type"] in ("union_tag_not_found", "union_tag_invalid"):  # a discriminated union: say the tags
            ctx = e.get("ctx") or {}
            key, tags = ctx.get("discriminator", "").strip("'"), ctx.get("expected_tags", "")
            if not tags:
                tags = ", ".join(repr(t) for t in _tags(model, path, key))
            got = ctx.get("tag")
            what = f"{key} {got!r} is not one of them" if got is not None else f"it has no `{key}`"
            out.append(error(src.pos(path), "CG101", f"{where}: needs `{key}`, one of {tags}; {what}"))
        else:
            msgs = sorted({x["msg"] for x, _ in items})
            got = _value_at(src.data, path)
            msg = "; or ".join(msgs) if len(msgs) <= 3 else msgs[0]
            out.append(error(src.pos(path), "CG101", f"{where}: {msg} (got {_kind(got)}{_short(got)})"))
    return out


def _tags(model: type[BaseModel], path: tuple, key: str) -> list[Any]:
    """The values of a discriminated union's tag field at ``path``."""
    ann = _annotation_at(model, path)
    if ann is None:
        return []
    out: list[Any] = []
    for m in _members(ann):
        if isinstance(m, type) and issubclass(m, BaseModel) and key in m.model_fields:
            out += list(typing.get_args(m.model_fields[key].annotation))
    return out


def _value_at(data: Any, path: tuple) -> Any:
    cur = data
    for p in path:
        try:
            cur = cur[p]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _short(v: Any) -> str:
    if isinstance(v, (dict, list)) or v is None:
        return ""
    s = repr(v)
    return f" {s[:40]}{'…' if len(s) > 40 else ''}"


@dataclass
class Project:
    """Every source loaded from one cards folder."""

    root: Path
    shared: list[Source] = field(default_factory=list)
    cards: list[Source] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def load_project(scope: Scope, jobs: int | None = None) -> Project:
    """Load the shared sources and the card folders in scope (a linked folder that leaves the cards
    folder is reported, not read)."""
    from cardgen.parallel import map_items

    proj = load_shared(scope.root)
    folders, escapes = scope.walk()
    proj.diagnostics += [outside_link(link, scope.root) for link in escapes]
    for src, d in map_items(partial(load_card, root=scope.root), folders, jobs):
        proj.diagnostics += d
        if src.docs:
            proj.cards.append(src)
    return proj


def outside_link(link: Path, root: Path) -> Diagnostic:
    """CG304: a link that leads outside the cards folder (it is not followed)."""
    return error(Where(display(link)), "CG304", f"{display(link)} is a link to {link.resolve()}, outside "
                                                 f"{display(root)}: not read")


def load_shared(root: Path) -> Project:
    """A project holding only the shared sources of a cards folder."""
    from cardgen.files import escaping_link

    proj = Project(root)
    shared = root / SHARED_DIR
    if (link := escaping_link(shared, root)) is not None:
        proj.diagnostics.append(outside_link(link, root))
        return proj
    for f in yaml_files(shared):
        src, d = load_source(shared, [f], SharedSource, root)
        proj.diagnostics += d
        if src.docs:
            proj.shared.append(src)
    return proj


def load_card(folder: Path, root: Path) -> tuple[Source, list[Diagnostic]]:
    """Load one card folder's sources."""
    return load_source(folder, yaml_files(folder), CardSource, root)
