"""`cardgen import`: existing README cards into card sources, losing nothing.

The front matter goes into typed fields where cardgen has one (licence, languages, datasets, base model
and relation, task, library, tags, new version, inference, evaluation results from the model-index
through huggingface_hub's own parser, emissions, widget) and everything else into the `metadata:`
pass-through, so that the front matter of the card rendered from the new sources, read by
huggingface_hub, equals the original's. The body is cut at its headings (found by markdown-it-py)
into the title and ordered free sections, each kept as the original wrote it.

Sources are written atomically, never over existing ones unless ``force``; the same input gives the
same sources.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cardgen import hubspec
from cardgen.files import atomic_write, read_text
from cardgen.frontmatter import split
from cardgen.importing.recognise.claims import Claim, literal
from cardgen.importing.recognise.run import recognise

#: front-matter keys with a typed field (the rest go through `metadata:`)
PLAIN_TYPED = ("language", "library_name", "pipeline_tag", "tags", "base_model", "base_model_relation",
               "new_version", "inference")


class ImportError_(Exception):
    """The source cannot be imported (one line, no traceback)."""


def _read(p: Path) -> str:
    """A README's text, within cardgen's size bound; why not, in one line."""
    text, problems = read_text(p, str(p))
    if text is None:
        raise ImportError_(f"{p}: {problems[0].message if problems else 'cannot read'}")
    return text


@dataclass
class Imported:
    repo_id: str
    source: str  # where the README came from
    card: dict[str, Any]
    recognised: list[str] = field(default_factory=list)  # typed fields filled
    free_sections: int = 0
    problems: list[str] = field(default_factory=list)  # what could not be kept as typed data, and why
    original: str = ""  # the README as read (BOM and CRLF removed)
    lines: list[str] = field(default_factory=list)  # the body's lines
    body_start: int = 0  # the first line after the title
    cuts: list[int] = field(default_factory=list)  # where `#` and `##` headings after the title begin
    claims: list[Claim] = field(default_factory=list)  # parts of the body shown from typed fields
    base: Imported | None = None  # the embedded original card, as a card of its own
    partials: dict[str, str] = field(default_factory=dict)  # the card's own templates, by file name
    start: dict[str, Any] = field(default_factory=dict)  # the card's fields before the claims (finish starts here)
    file: str = ""  # the README its lines are counted in (an embedded card's: the card that embeds it)

    @property
    def readme(self) -> str:
        return self.file or self.source

    def all(self) -> list[Imported]:
        """This card and the base card it embeds, if any."""
        return [self, *(self.base.all() if self.base else [])]


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "section"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def _licence(meta: dict[str, Any], out: dict[str, Any], imp: Imported) -> None:
    lic = meta.get("license")
    if lic is None:
        return
    if isinstance(lic, list) and len(lic) == 1:
        lic = lic[0]
        imp.problems.append(f"license was a one-item list: written as its item, {lic!r} (the Hub wants one id)")
    entry: dict[str, Any] = {"id": lic}
    for key, sub in (("license_name", "name"), ("license_link", "link")):
        if meta.get(key) is not None:
            entry[sub] = meta[key]
    out["license"] = lic if len(entry) == 1 else entry
    imp.recognised.append("license")
    if not (isinstance(lic, str) and (lic in hubspec.licenses() or lic == "other")):
        imp.problems.append(f"license {lic!r} is not a Hub licence id: kept as written, `cardgen validate` says "
                            "what to write")


def _evaluation(meta: dict[str, Any], out: dict[str, Any], imp: Imported) -> None:
    index = meta.get("model-index")
    if index is None:
        return
    from huggingface_hub.repocard_data import model_index_to_eval_results

    try:
        name, results = model_index_to_eval_results(index)
    except Exception as e:  # noqa: BLE001 - huggingface_hub's verdict, whatever it raises
        imp.problems.append(f"model-index does not parse with huggingface_hub ({type(e).__name__}: {e}), and the "
                            "Hub refuses such a card: left out; write its results as `evaluation:`")
        return
    rebuilt = [{k: v for k, v in vars(r).items() if v is not None} for r in results]
    if not rebuilt:
        imp.problems.append("model-index has no results: left out (the Hub shows none either way)")
        return
    if name != out["repo_id"].split("/")[-1]:
        imp.problems.append(f"model-index names the model {name!r}; the rendered one names it after the repository")
    out["evaluation"] = rebuilt
    imp.recognised.append("evaluation")


def front_matter(meta: dict[str, Any], out: dict[str, Any], imp: Imported) -> None:
    _licence(meta, out, imp)
    for key in (*PLAIN_TYPED, "datasets"):
        if key in meta and meta[key] is not None:
            v = meta[key]
            if key in ("language", "tags", "datasets") and isinstance(v, str):
                v = [v]  # one item, as a list: the same to the Hub
            if v == []:
                imp.problems.append(f"`{key}: []` is empty, which the Hub reads as no value: left out")
                continue
            out[key] = v
            imp.recognised.append(key)
    _evaluation(meta, out, imp)
    co2 = meta.get("co2_eq_emissions")
    if isinstance(co2, (int, float)) and not isinstance(co2, bool):
        co2 = {"emissions": co2}
        imp.problems.append("co2_eq_emissions was a number: written as {emissions: N}, the Hub's mapping")
    if co2 is not None:
        out["co2_eq_emissions"] = co2
        imp.recognised.append("co2_eq_emissions")
    if meta.get("widget") is not None:
        out["widget"] = meta["widget"]
        imp.recognised.append("widget")
    handled = {"license", "license_name", "license_link", "datasets", "model-index", "co2_eq_emissions", "widget",
               *PLAIN_TYPED}
    for key, value in meta.items():
        if key not in handled:
            out.setdefault("metadata", {})[key] = value


#: an embedded original card: a `# ` heading after the title, as TheBloke's and others' derived cards write it
_EMBEDDED = re.compile(r"^original model card\b", re.I)


def body(text: str, out: dict[str, Any], imp: Imported, base_model: Any = None, offset: int = 0,
         fix: bool = False) -> None:
    """The title (the first `# ` heading, when it opens the body), the parts recognised as structure
    (``recognise``), an embedded original card (a base card of its own, with `extends`), and the rest as
    ordered free sections."""
    from cardgen.importing.blocks import parser

    lines = text.split("\n")
    tokens = parser().parse(text)
    last = next((t for t in reversed(tokens) if t.map and t.level == 0), None)
    if last is not None and last.type == "fence" and last.map and (
            last.map[1] - last.map[0] < 2 or not lines[last.map[1] - 1].strip().startswith(last.markup)):
        # a code block the original never closed runs to the end of the card; closed here, so that what
        # cardgen appends after the body does not fall into it
        text = text.rstrip("\n") + "\n" + last.markup + "\n"
        lines = text.split("\n")
        tokens = parser().parse(text)
        imp.problems.append("the last code block was never closed: closed at the end of the card")
    heads = [(t.map[0], t.map[1], int(t.tag[1]), tokens[i + 1].content) for i, t in enumerate(tokens)
             if t.type == "heading_open" and t.map and t.level == 0]
    first_block = next((t.map[0] for t in tokens if t.map and t.level == 0), None)
    body_start = 0  # where the sections begin: after a one-line `# ` title that opens the body
    if heads and heads[0][2] == 1 and heads[0][0] == first_block and heads[0][1] - heads[0][0] == 1 \
            and lines[heads[0][0]].startswith("# "):
        out["title"] = heads[0][3]
        body_start = heads[0][1]
    out.setdefault("title", "")  # none: the rendered card has no `# ` title either
    imp.lines, imp.body_start = lines, body_start
    imp.cuts = [start for start, _, level, _ in heads if level <= 2 and start >= body_start]
    end = len(lines)
    embedded = next((h for h in heads if h[2] == 1 and h[0] >= body_start and h[1] - h[0] == 1
                     and _EMBEDDED.match(h[3])), None)
    base_claim = None
    if embedded is not None:
        base = base_model[0] if isinstance(base_model, list) and len(base_model) == 1 else base_model
        if isinstance(base, str) and not hubspec.repo_id_problem(base) and base != imp.repo_id:
            end = embedded[0]
            sub = Imported(base, f"{imp.source} (its embedded original card)", {}, file=imp.readme)
            sub.card = {"repo_id": base}
            sub.original = "\n".join(lines[embedded[1]:])
            body(sub.original, sub.card, sub, offset=offset + embedded[1], fix=fix)
            imp.base = sub
            partial = literal(lines[embedded[0]]) + "\n\n{{ base_card() }}\n"
            base_claim = Claim(embedded[0], len(lines), "base_card",
                               {"extends": base, "embed_base_card": True, "base_card_headings": "as_written"},
                               partial, f"embedded original card, as the base card {base}",
                               original="\n".join(lines[embedded[0]:]))
        else:
            imp.problems.append(f"line {embedded[0] + 1 + offset}: an embedded original card, but `base_model` does "
                                "not name one repository: kept as text")
    scan = [("" if i < body_start else line) for i, line in enumerate(lines[:end])]
    licensed = out.get("license") is not None
    imp.claims = recognise("\n".join(scan), imp.repo_id, imp.problems, offset, fix, licensed,
                           out.get("title") or "") + ([base_claim] if base_claim else [])


def finish(imp: Imported) -> None:
    """The card's sources from its claims: their fields, the free sections between them, and the
    templates that place them in the original's order."""
    import copy

    if not imp.start:
        imp.start = copy.deepcopy({"card": imp.card, "recognised": imp.recognised})
    imp.card = out = copy.deepcopy(imp.start["card"])
    imp.recognised = list(imp.start["recognised"])
    lines = imp.lines
    for c in imp.claims:
        out.update(c.fields)
    claimed = {c.start: c for c in imp.claims}
    bounds = sorted({imp.body_start, len(lines), *(x for c in imp.claims for x in (c.start, c.end)), *imp.cuts})
    from cardgen.sections import SECTION_NAMES

    taken: set[str] = set(SECTION_NAMES)  # a section named like a slot would be placed after both
    sections: list[dict[str, Any]] = []
    prev, slots = "title", ["title"]
    for a, b in zip(bounds, bounds[1:], strict=False):
        if a in claimed:
            prev = claimed[a].slot
            slots.append(prev)
            continue
        if any(c.start < b and a < c.end for c in imp.claims):
            continue
        chunk = "\n".join(lines[a:b]).strip("\n")
        if not chunk.strip():
            continue
        sid = _slug(chunk.split("\n", 1)[0].lstrip("#").strip(), taken)
        sections.append({"id": sid, "body": chunk, "verbatim": True, "after": prev})
        prev = sid
    if sections:
        out["sections"] = sections
    imp.free_sections = len(sections)
    imp.recognised += [c.what for c in imp.claims]
    imp.partials = {"card.md.j2": CARD_TEMPLATE + "".join(f'{{{{ slot("{s}") }}}}' for s in slots) + "\n",
                    **own_templates(imp.claims)}


def own_templates(claims: list[Claim]) -> dict[str, str]:
    """The templates of a card's own that its claims need: each slot's partial (none where cardgen's
    own serves), and the files a claim brings (an imported snippet)."""
    out = {f"{c.slot}.md.j2": c.partial for c in claims if c.partial}
    for c in claims:
        out.update(c.files)
    return out


def import_text(text: str, repo_id: str, source: str, fix: bool = False) -> Imported:
    imp = Imported(repo_id, source, {})
    out: dict[str, Any] = {"repo_id": repo_id}
    imp.card = out
    text = imp.original = text.lstrip("\ufeff").replace("\r\n", "\n")
    fm, rest, _ = split(text)
    meta: Any = {}
    if fm is not None:
        try:
            meta = yaml.safe_load(fm) or {}
        except yaml.YAMLError as e:
            imp.problems.append(f"the front matter is not YAML ({str(e).splitlines()[0]}); kept as body text")
            rest, meta = text, {}
    if not isinstance(meta, dict):
        imp.problems.append("the front matter is not a mapping; kept as body text")
        rest, meta = text, {}
    front_matter(meta, out, imp)
    body(rest, out, imp, meta.get("base_model"), offset=text.count("\n") - rest.count("\n"), fix=fix)
    return imp


#: the imported card's own order of sections: the slots of the parts recognised as structure, in the
#: original's order (its free sections are anchored to them)
CARD_TEMPLATE = """{#- Imported by cardgen: the original's order. Each slot's partial in this folder is the original's
    text around the facts it shows from card.yaml; the free sections in card.yaml are anchored to the
    slots. Replace a partial by cardgen's own (delete it) to take cardgen's layout for that section. -#}
"""


def _dump(data: Any) -> str:
    from cardgen.frontmatter import _Dumper

    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)


def card_yaml(imp: Imported, card: dict[str, Any] | None = None) -> str:
    head = (f"# yaml-language-server: $schema=../../../schemas/card.schema.json\n"
            f"# Imported by cardgen from {imp.source}\n")
    return head + _dump(imp.card if card is None else card)


def readme_sources(paths: list[str], repo_id: str | None) -> list[tuple[str, str, str]]:
    """(repo id, where it came from, README text) for each README named: a file, a folder of them
    (flat `*.md`, or `owner/name/README.md`), or a Hub repo id `owner/name[@revision]`."""
    out: list[tuple[str, str, str]] = []
    for arg in paths:
        p = Path(arg)
        if p.is_file():
            rid = repo_id or _repo_from_path(p)
            out.append((rid, str(p), _read(p)))
        elif p.is_dir():
            files = sorted(p.glob("*/*/README.md")) or sorted(f for f in p.glob("*.md") if f.name != "README.md")
            if not files:
                raise ImportError_(f"{p}: no README files (owner/name/README.md, or *.md)")
            for f in files:
                rid = _repo_from_path(f) if f.name == "README.md" else f"imported/{f.stem}"
                out.append((rid, str(f), _read(f)))
        elif re.fullmatch(r"[\w.-]+/[\w.-]+(@[\w./-]+)?", arg) and not p.exists():
            out.append(_from_hub(arg))
        else:
            raise ImportError_(f"{arg}: no such file or folder, and not a Hub repo id (owner/name[@revision])")
    return out


def _repo_from_path(p: Path) -> str:
    if p.name == "README.md" and p.parent.parent.name:
        return f"{p.parent.parent.name}/{p.parent.name}"
    return f"imported/{p.stem}"


def _from_hub(arg: str) -> tuple[str, str, str]:
    import os

    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo, _, rev = arg.partition("@")
    if p := hubspec.repo_id_problem(repo):
        raise ImportError_(f"{arg}: {p}")
    try:
        path = hf_hub_download(repo, "README.md", revision=rev or None, endpoint=os.environ.get("HF_ENDPOINT") or None)
    except RepositoryNotFoundError:
        raise ImportError_(f"{repo} does not exist on the Hub (or is private and no token was given)") from None
    except RevisionNotFoundError:
        raise ImportError_(f"{repo} has no revision {rev!r}") from None
    except LocalEntryNotFoundError:  # offline, or the Hub did not answer, and no copy in the cache
        raise ImportError_(f"cannot fetch {arg} from the Hub: it could not be reached (or HF_HUB_OFFLINE is set) "
                           "and no copy is cached") from None
    except EntryNotFoundError:
        raise ImportError_(f"{repo} has no README.md") from None
    except Exception as e:  # noqa: BLE001 - offline, unreachable, refused: one line
        raise ImportError_(f"cannot fetch {arg} from the Hub: {type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}") from None
    return repo, f"https://huggingface.co/{repo}" + (f"/tree/{rev}" if rev else ""), _read(Path(path))


#: between the slots of a card rendered to check its claims
_CUT = "<!-- cardgen:import-cut -->"


def _write_card(root: Path, imp: Imported, partials: dict[str, str], card: dict[str, Any]) -> Path:
    folder = root / imp.repo_id
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    for name, text in partials.items():
        (folder / "templates" / name).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "templates" / name, text)
    target = folder / "card.yaml"
    atomic_write(target, card_yaml(imp, card))
    return target


def _hub_meta(text: str) -> dict[str, Any]:
    from huggingface_hub import ModelCard

    LISTS = ("language", "tags", "datasets", "base_model")
    try:
        data = ModelCard(text, ignore_metadata_errors=True).data.to_dict()
    except Exception:  # noqa: BLE001 - a card huggingface_hub cannot read: nothing to compare with
        return {}
    return {k: [v] if k in LISTS and isinstance(v, str) else v for k, v in data.items()}


def verify(units: list[Imported], fixed: Sequence[Imported] = ()) -> None:
    """Keep only the claims whose rendering gives back the original's blocks: each card of ``units`` is
    rendered with its claimed slots alone (cut apart by a marker), and each slot's blocks compared with
    those of the lines it stands for; the cards of ``fixed`` (finished base cards) are rendered as they
    will be written. A card that does not render, or whose front matter (as huggingface_hub reads it)
    would change, loses its embedded base card and its variants, then every claim."""
    import tempfile
    from collections import Counter

    from cardgen.cache import RunCache
    from cardgen.diagnostics import Collector
    from cardgen.importing.blocks import body_blocks, lines_found
    from cardgen.loading.scope import select
    from cardgen.pipeline.validate import validate_scope
    from cardgen.rendering.jinja import render_card

    for attempt in range(3):
        todo = [i for i in units if i.claims]
        if not todo:
            return
        texts: dict[str, str | None] = {}
        with tempfile.TemporaryDirectory(prefix="cardgen-import-") as tmp:
            for imp in todo:
                card = dict(imp.card)
                for c in imp.claims:
                    card.update(c.fields)
                cut = "".join(f'{{{{ slot("{s}") }}}}{_CUT}\n\n' for s in ["title", *(c.slot for c in imp.claims)])
                _write_card(Path(tmp), imp, {"card.md.j2": cut, **own_templates(imp.claims)}, card)
            for imp in fixed:
                _write_card(Path(tmp), imp, imp.partials, imp.card)
            cache = RunCache()
            for scope in select([Path(tmp)]).scopes:
                res = validate_scope(scope, 1)
                bad = {d.file for d in res.errors}
                for card_ in res.cards:
                    ok = not (card_.files() & bad)
                    texts[card_.repo_id] = render_card(card_, cache, Collector()) if ok else None
        again = False
        for imp in todo:
            text = texts.get(imp.repo_id)
            risky = [c for c in imp.claims if c.slot in ("base_card", "variants", "model_details")]
            before = _hub_meta(imp.original) if risky and imp.original.startswith("---") else None
            if text is None or (before is not None and _changed(before, _hub_meta(text), imp)):
                why = "the card did not render" if text is None else "the front matter would change"
                again = True
                drop = risky if risky and attempt == 0 else list(imp.claims)
                for c in drop:
                    imp.problems.append(f"recognised {c.what}, but with it {why}: kept as text")
                imp.claims = [c for c in imp.claims if c not in drop]
                continue
            keep = []
            for c, piece in zip(imp.claims, text.split(_CUT)[1:], strict=False):
                want = c.original if c.expected is None else c.expected
                if c.by_lines:  # a flattened page: each of its lines found in the rendering
                    same = not lines_found(want, piece)[1]
                else:
                    same = Counter(body_blocks(piece)) == Counter(body_blocks(want))
                if same:
                    keep.append(c)
                else:
                    imp.problems.append(f"recognised {c.what}, but cardgen's rendering of it would differ from "
                                        "the original: kept as text")
            imp.claims = keep
        if not again:
            return
    for imp in units:  # three tries: what is left unverified stays text
        imp.claims = []


def settle(imports: list[Imported]) -> None:
    """The finished cards rendered whole: a card whose README does not give back the original's blocks
    (its free sections and claimed parts together) loses its claims (and an embedded card becomes text
    again), reported. A card with a flattened part (checked line by line) is left as it is."""
    import tempfile
    from collections import Counter

    from cardgen.importing.blocks import body_blocks
    from cardgen.loading.scope import select
    from cardgen.pipeline.run import render_all

    cards = [imp for top in imports for imp in top.all() if imp.claims]
    if not cards:
        return
    with tempfile.TemporaryDirectory(prefix="cardgen-import-") as tmp:
        for top in imports:
            for imp in top.all():
                _write_card(Path(tmp), imp, imp.partials, imp.card)
        rendering = render_all(select([Path(tmp)]), jobs=1, keep_cards=True)
        texts = {repo: rendering.texts.get(repo) for repo in [c.repo_id for c in cards]}
    from cardgen.rendering.provenance import unsealed

    for top in imports:
        for imp in top.all():
            if not imp.claims or any(c.by_lines for c in imp.claims):
                continue
            text = texts.get(imp.repo_id)
            got = Counter(body_blocks(split(unsealed(text))[1])) if text else None
            lines = list(imp.lines)
            for c in sorted(imp.claims, key=lambda c: -c.start):
                if c.expected is not None:
                    lines[c.start:c.end] = c.expected.split("\n")
            if got != Counter(body_blocks("\n".join(lines))):
                imp.problems.append("the recognised parts (" + ", ".join(c.what for c in imp.claims) + ") do not "
                                    "give the original back together with the text between them: kept as text")
                imp.claims = []
                if imp is top:
                    top.base = None
                finish(imp)


def _changed(before: dict[str, Any], after: dict[str, Any], imp: Imported) -> bool:
    keys = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    return any(not any(k in p for p in imp.problems) for k in keys)


def share(imports: list[Imported], existing: set[str]) -> dict[str, Any]:
    """Facts written in several imported cards, moved to one shared file: the same licence, the same
    BibTeX entry, and the same free section at the same place. Returns the shared file's content (empty:
    nothing shared)."""
    import hashlib
    import json

    cards = [imp for top in imports for imp in top.all()]
    shared: dict[str, dict[str, Any]] = {"licenses": {}, "citations": {}, "sections": {}}
    taken = set(existing)

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
                    if k not in ids:
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
            if k not in moved:
                moved[k] = new_id(sec["id"])
                shared["sections"][moved[k]] = {**sec, "id": moved[k]}
            renamed[sec["id"]] = moved[k]
            secs[i] = moved[k]
            prev_shared = True
        if n := sum(isinstance(x, str) for x in secs):
            imp.recognised.append(f"{n} shared section{'s' * (n != 1)}")
    return {k: v for k, v in shared.items() if v}


def _existing_ids(out: Path) -> set[str]:
    ids: set[str] = set()
    for f in sorted((out / "_shared").glob("*.y*ml")) if (out / "_shared").is_dir() else []:
        try:
            data = yaml.safe_load(f.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            ids |= {str(k) for v in data.values() if isinstance(v, dict) for k in v}
    return ids


def run_import(paths: list[str], out: Path, repo_id: str | None, force: bool, share_facts: bool = True,
               fix: bool = False) -> tuple[list[Imported], list[Path]]:
    """Import every README named; write each card's sources (atomically, never over existing ones
    unless ``force``). All are read, converted and checked before anything is written."""
    found = readme_sources(paths, repo_id)
    if repo_id and len(found) > 1:
        raise ImportError_("--repo-id names one repository, but several READMEs were given")
    seen: dict[str, str] = {}
    for rid, src, _ in found:
        if p := hubspec.repo_id_problem(rid):
            raise ImportError_(f"{src}: repo id {rid!r}: {p} (give --repo-id)")
        if rid in seen:
            raise ImportError_(f"{src} and {seen[rid]} would both become {rid}")
        seen[rid] = src
    imports = [import_text(text, rid, src, fix) for rid, src, text in found]
    for top in imports:  # an embedded card whose repository is imported too, or already has sources, stays text
        if top.base and (top.base.repo_id in seen or (out / top.base.repo_id).exists()):
            top.problems.append(f"the embedded original card of {top.base.repo_id} stays text: that card is "
                                f"{'imported too' if top.base.repo_id in seen else 'already in ' + str(out)}")
            top.claims = [c for c in top.claims if c.slot != "base_card"]
            top.base = None
    # the cards' own claims first (an embedded card's too, as a card of its own); then each embedded
    # card, finished, under the card that embeds it
    held = {id(top): [c for c in top.claims if c.slot == "base_card"] for top in imports}
    for top in imports:
        top.claims = [c for c in top.claims if c.slot != "base_card"]
    verify([imp for top in imports for imp in top.all()])
    with_base = [top for top in imports if top.base]
    for top in with_base:
        assert top.base is not None
        finish(top.base)
        top.claims = sorted(top.claims + held[id(top)], key=lambda c: c.start)
    verify(with_base, [top.base for top in with_base if top.base])
    for top in with_base:
        if not any(c.slot == "base_card" for c in top.claims):
            top.base = None
    for top in imports:
        finish(top)
    settle(imports)
    cards = [imp for top in imports for imp in top.all()]
    shared = share(imports, _existing_ids(out)) if share_facts else {}
    targets = [out / imp.repo_id / "card.yaml" for imp in cards]
    shared_file = out / "_shared" / "imported.yaml"
    existing = [t for t in targets if t.exists()] + ([shared_file] if shared and shared_file.exists() else [])
    if existing and not force:
        raise ImportError_(f"{existing[0]} exists ({len(existing)} in all); pass --force to replace")
    for imp in cards:
        _write_card(out, imp, imp.partials, imp.card)
    if shared:
        shared_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(shared_file, "# Imported by cardgen: facts that several imported cards share\n" + _dump(shared))
    return cards, targets
