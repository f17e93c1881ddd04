"""The READMEs `cardgen import` reads: a file, a folder of them, or a Hub repo (fetched with
huggingface_hub), each with the repo id its card gets."""

from __future__ import annotations

import re
from pathlib import Path

from cardgen import hubspec
from cardgen.files import display, escaping_link, read_text
from cardgen.hub import Bounds
from cardgen.importing.imported import ImportError_
from cardgen.limits import MAX_FILE_BYTES

#: a README is read within cardgen's size bound for a file; an unreachable Hub gives up in seconds
IMPORT_BOUNDS = Bounds(timeout=10.0, deadline=30.0, max_bytes=MAX_FILE_BYTES)


def _read(p: Path) -> str:
    """A README's text, within cardgen's size bound; why not, in one line."""
    text, problems = read_text(p, str(p))
    if text is None:
        raise ImportError_(f"{p}: {problems[0].message if problems else 'cannot read'}")
    return text


def readme_sources(paths: list[str], repo_id: str | None, bounds: Bounds = IMPORT_BOUNDS) -> list[tuple[str, str, str]]:
    """(repo id, where it came from, README text) for each README named: a file, a folder of them
    (flat `*.md`, or `owner/name/README.md`, each inside the folder once links are resolved: a link out
    of it is refused), or a Hub repo id `owner/name[@revision]` (fetched within ``bounds``)."""
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
                if (link := escaping_link(f, p)) is not None:
                    raise ImportError_(f"{display(link)} is a link out of {display(p)}: not read (import reads a "
                                       "folder's own files; name a file outside it on its own if you mean it)")
                rid = _repo_from_path(f) if f.name == "README.md" else f"imported/{f.stem}"
                out.append((rid, str(f), _read(f)))
        elif re.fullmatch(r"[\w.-]+/[\w.-]+(@[\w./-]+)?", arg) and not p.exists():
            out.append(_from_hub(arg, bounds))
        else:
            raise ImportError_(f"{arg}: no such file or folder, and not a Hub repo id (owner/name[@revision])")
    return out


def _repo_from_path(p: Path) -> str:
    if p.name == "README.md" and p.parent.parent.name:
        return f"{p.parent.parent.name}/{p.parent.name}"
    return f"imported/{p.stem}"


def _from_hub(arg: str, bounds: Bounds) -> tuple[str, str, str]:
    """A Hub repo's README, through the one Hub client (bounded; downloaded into a temporary folder, never
    into the user's Hugging Face cache, where a README-only snapshot would pass for the model later)."""
    import tempfile

    from cardgen.hub import Hub, explain, repo_url

    repo, _, rev = arg.partition("@")
    if p := hubspec.repo_id_problem(repo):
        raise ImportError_(f"{arg}: {p}")
    with tempfile.TemporaryDirectory(prefix="cardgen-import-") as tmp:
        try:
            text, _ = Hub(bounds).readme(repo, rev or None, tmp)
        except Exception as e:  # noqa: BLE001 - unreachable, refused, too large: one line
            raise ImportError_(explain(e, repo, rev or None, f"cannot fetch {arg} from the Hub")) from None
    if text is None:
        raise ImportError_(f"{repo} has no README.md")
    return repo, repo_url(repo, rev or None), text
