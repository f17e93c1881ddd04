"""The READMEs `cardgen import` reads: a file, a folder of them, or a Hub repo (fetched with
huggingface_hub), each with the repo id its card gets."""

from __future__ import annotations

import re
from pathlib import Path

from cardgen import hubspec
from cardgen.files import read_text
from cardgen.importing.imported import ImportError_


def _read(p: Path) -> str:
    """A README's text, within cardgen's size bound; why not, in one line."""
    text, problems = read_text(p, str(p))
    if text is None:
        raise ImportError_(f"{p}: {problems[0].message if problems else 'cannot read'}")
    return text


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

