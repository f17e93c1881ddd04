"""What cardgen keeps between runs, in ``$CARDGEN_CACHE_DIR`` (default ``~/.cache/cardgen``;
``off`` keeps nothing): Jinja's compiled templates, and the Hub's verdict on each repo id seen.

Everything here is derived from inputs it is keyed by (a template's source, the huggingface_hub
version), so a stale entry cannot be read; a folder that cannot be written just means no cache.
"""

from __future__ import annotations

import atexit
import json
import os
import tempfile
from functools import lru_cache


@lru_cache(maxsize=1)
def folder() -> str | None:
    where = os.environ.get("CARDGEN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "cardgen")
    if where == "off":
        return None
    try:
        os.makedirs(where, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=where, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError:
        return None
    return where


# -- the Hub's verdicts on repo ids ----------------------------------------------------------------
_NEW: dict[str, str | None] = {}


def _verdicts_file() -> str | None:
    import huggingface_hub  # the package itself is light; its validator pulls in an HTTP client

    top = folder()
    return os.path.join(top, f"repo-ids-hf{huggingface_hub.__version__}.json") if top else None


@lru_cache(maxsize=1)
def verdicts() -> dict[str, str | None]:
    """Repo id -> huggingface_hub's complaint about it (None: valid), from earlier runs."""
    path = _verdicts_file()
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return {k: v for k, v in data.items() if isinstance(k, str) and (v is None or isinstance(v, str))}
    except (OSError, TypeError, ValueError, AttributeError):
        return {}


def remember(repo_id: str, verdict: str | None) -> None:
    if not _NEW and folder():
        atexit.register(_flush)
    _NEW[repo_id] = verdict


def _flush() -> None:
    path = _verdicts_file()
    if not path or not _NEW:
        return
    merged = {**verdicts(), **_NEW}
    if len(merged) > 100_000:  # an organisation's ids, not the whole Hub
        merged = dict(_NEW)
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".repo-ids-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(merged, fh, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass
