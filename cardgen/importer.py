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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import hubspec
from .files import atomic_write, read_text
from .frontmatter import split

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


def body(text: str, out: dict[str, Any], imp: Imported) -> None:
    """The title (the first `# ` heading, when it opens the body) and the rest as ordered free sections."""
    from markdown_it import MarkdownIt

    lines = text.split("\n")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    last = next((t for t in reversed(tokens) if t.map and t.level == 0), None)
    if last is not None and last.type == "fence" and last.map and (
            last.map[1] - last.map[0] < 2 or not lines[last.map[1] - 1].strip().startswith(last.markup)):
        # a code block the original never closed runs to the end of the card; closed here, so that what
        # cardgen appends after the body does not fall into it
        text = text.rstrip("\n") + "\n" + last.markup + "\n"
        lines = text.split("\n")
        tokens = MarkdownIt("commonmark").enable("table").parse(text)
        imp.problems.append("the last code block was never closed: closed at the end of the card")
    heads = [(t.map[0], t.map[1], int(t.tag[1]), tokens[i + 1].content) for i, t in enumerate(tokens)
             if t.type == "heading_open" and t.map and t.level == 0]
    cuts = [start for start, _, level, _ in heads if level <= 2]
    first_block = next((t.map[0] for t in tokens if t.map and t.level == 0), None)
    taken: set[str] = set()
    sections: list[dict[str, Any]] = []
    body_start = 0  # where the sections begin: after a one-line `# ` title that opens the body
    if heads and heads[0][2] == 1 and heads[0][0] == first_block and heads[0][1] - heads[0][0] == 1 \
            and lines[heads[0][0]].startswith("# "):
        out["title"] = heads[0][3]
        body_start = heads[0][1]
        cuts.remove(heads[0][0])
    bounds = [*sorted({body_start, *cuts}), len(lines)]
    prev = "title"
    for a, b in zip(bounds, bounds[1:], strict=False):
        chunk = "\n".join(lines[a:b]).strip("\n")
        if not chunk.strip():
            continue
        sid = _slug(chunk.split("\n", 1)[0].lstrip("#").strip(), taken)
        sections.append({"id": sid, "body": chunk, "verbatim": True, "after": prev})
        prev = sid
    if sections:
        out["sections"] = sections
    imp.free_sections = len(sections)
    out.setdefault("title", "")  # none: the rendered card has no `# ` title either


def import_text(text: str, repo_id: str, source: str) -> Imported:
    imp = Imported(repo_id, source, {})
    out: dict[str, Any] = {"repo_id": repo_id}
    imp.card = out
    text = text.lstrip("\ufeff").replace("\r\n", "\n")
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
    body(rest, out, imp)
    return imp


#: the imported card's own order of sections: its title, then its free sections as the original had them
CARD_TEMPLATE = """{#- Imported by cardgen: the title, then the original's sections (free sections after it). Move the
    facts into typed fields and add their slots here (see cardgen's templates/card.md.j2) when ready. -#}
{{ slot("title") }}
"""


def card_yaml(imp: Imported) -> str:
    from .frontmatter import _Dumper

    head = (f"# yaml-language-server: $schema=../../../schemas/card.schema.json\n"
            f"# Imported by cardgen from {imp.source}\n")
    return head + yaml.dump(imp.card, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)


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


def run_import(paths: list[str], out: Path, repo_id: str | None, force: bool) -> tuple[list[Imported], list[Path]]:
    """Import every README named; write each card's sources (atomically, never over existing ones
    unless ``force``). All are read and converted before anything is written."""
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
    imports = [import_text(text, rid, src) for rid, src, text in found]
    targets = [out / imp.repo_id / "card.yaml" for imp in imports]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise ImportError_(f"{existing[0]} exists ({len(existing)} in all); pass --force to replace")
    for imp, target in zip(imports, targets, strict=True):
        (target.parent / "templates").mkdir(parents=True, exist_ok=True)
        atomic_write(target.parent / "templates" / "card.md.j2", CARD_TEMPLATE)
        atomic_write(target, card_yaml(imp))
    return imports, targets
