"""The digest marker that seals each rendered README, so that `publish` can tell a README cardgen
wrote from one edited by hand since."""

from __future__ import annotations

import hashlib
import re

DIGEST = re.compile(r"\n<!-- cardgen-digest: ([0-9a-f]{16}) -->\n\Z")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def seal(text: str) -> str:
    """Append the digest marker."""
    return f"{text}\n<!-- cardgen-digest: {_digest(text)} -->\n"


def intact(text: str) -> bool | None:
    """True: as cardgen wrote it; False: edited since; None: no marker (not written by cardgen)."""
    m = DIGEST.search(text)
    if not m:
        return None
    return _digest(text[: m.start()]) == m.group(1)


def unsealed(text: str) -> str:
    """The README without its marker (the part a person wrote the sources for)."""
    m = DIGEST.search(text)
    return text[: m.start() + 1] if m else text
