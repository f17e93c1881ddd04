"""The Hub's vocabulary, carried as data (see data/hubspec/ORIGIN.md), and its rules.

Everything here is offline: licence ids, pipeline tags, library names, language codes, the repo-id
rule (delegated to ``huggingface_hub``'s own validator) and the known front-matter keys.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "hubspec"

#: front-matter keys the Hub knows for model cards, plus those quantisers commonly add
KNOWN_METADATA_KEYS = (
    "language license license_name license_link library_name tags datasets metrics base_model "
    "base_model_relation new_version pipeline_tag inference widget thumbnail co2_eq_emissions "
    "model-index model_creator model_name model_type prompt_template quantized_by extra_gated_prompt "
    "extra_gated_fields"
).split()
BASE_MODEL_RELATIONS = ("adapter", "merge", "quantized", "finetune")
LICENSE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt")


@cache
def _load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text("utf-8"))


@cache
def licenses() -> dict[str, str]:
    return {x["id"]: x["name"] for x in _load("licenses")["licenses"]}


#: SPDX's spellings that the Hub's ids leave out: the GNU family's `-only` / `-or-later` (`+`), which the Hub
#: does not tell apart, and the words a licence's full name carries
_SPDX_SUFFIX = re.compile(r"(?:-only|-or-later|\+)$")
_NAME_WORDS = re.compile(r"-?\b(?:the|gnu|general|license|licence|version|public)\b-?")


@lru_cache(maxsize=1024)
def hub_license(text: str) -> str | None:
    """The Hub's id for a licence written another way, or None: the Hub's ids are lower case, so `MIT`,
    `CC-BY-4.0` and `Apache-2.0` (SPDX's spellings) are `mit`, `cc-by-4.0` and `apache-2.0`; SPDX's
    `GPL-3.0-only` and `GPL-3.0-or-later` (or `GPL-3.0+`) are `gpl-3.0`; spaces and underscores are
    hyphens, the words of a full name go (`Apache License 2.0`), a version `2` or `v2` is `2.0` where the Hub
    writes `2.0`, and a family the Hub lists without a version (`GFDL-1.3`, `ODbL-1.0`) is that family.
    ``text`` itself when it is an id already."""
    known = licenses()
    t = re.sub(r"[\s_]+", "-", str(text).strip().lower())
    t = _SPDX_SUFFIX.sub("", t)
    candidates = [t, _NAME_WORDS.sub("-", t).strip("-").replace("--", "-")]
    for c in list(candidates):
        c = re.sub(r"-v(?=\d)", "-", c)
        candidates += [c, re.sub(r"-(\d+)$", r"-\1.0", c), re.sub(r"-\d+(?:\.\d+)*[a-z]?$", "", c),
                       re.sub(r"(?<=[a-z])-(?=\d)", "", c)]  # `llama-3` is `llama3`
    return next((c for c in candidates if c in known), None)


@cache
def pipeline_tags() -> dict[str, str]:
    return {x["id"]: x["name"] for x in _load("pipeline_tags")["pipeline_tags"]}


@cache
def library_names() -> dict[str, str]:
    return {x["id"]: x["name"] for x in _load("library_names")["library_names"]}


@cache
def languages() -> dict[str, str]:
    d = _load("languages")
    out = {x["code"]: x["name"] for x in d["iso_639_3"]}
    out.update({x["code"]: x["name"] for x in d["iso_639_1"]})
    return out


#: ISO 639-2/B (bibliographic) codes, which differ from the 639-3 code of the same language
ISO_639_2B = frozenset("alb arm baq bur chi cze dut fre geo ger gre ice mac mao may per rum slo tib wel".split())
#: values the Hub accepts in `language` beside the codes
SPECIAL_LANGUAGES = frozenset({"code", "multilingual"})
_LANGUAGE_SHAPE = re.compile(r"[a-z]{2,3}")


def language_shaped(code: str) -> bool:
    """What the Hub accepts in `language`: a lower-case code of two or three letters, or a special value."""
    return code in SPECIAL_LANGUAGES or bool(_LANGUAGE_SHAPE.fullmatch(code))


def language_known(code: str) -> bool:
    return code in languages() or code in ISO_639_2B or code in SPECIAL_LANGUAGES


@cache
def sources() -> dict[str, str]:
    """Each vocabulary file's origin: repository, path, commit and date."""
    return {n: _load(n)["source"] for n in ("licenses", "pipeline_tags", "library_names", "languages")}


def snapshot() -> str:
    """One line naming the vocabulary's sources, commits and dates (for `cardgen --version`)."""
    return "; ".join(f"{name}: {src}" for name, src in sources().items())


def suggest(word: object, choices: Iterable[str], n: int = 1) -> str:
    """' (did you mean `x`?)' or ''."""
    m = difflib.get_close_matches(str(word), list(choices), n=n, cutoff=0.6)
    return f" (did you mean `{m[0]}`?)" if m else ""


def repo_id_problem(repo_id: str, need_owner: bool = True) -> str | None:
    """Why ``repo_id`` is not a valid Hub repo id, or None. Uses huggingface_hub's own rule."""
    if not isinstance(repo_id, str):
        return "a repo id must be a string"
    return _repo_id_problem(repo_id, need_owner)


@lru_cache(maxsize=65536)  # an organisation's cards name the same base models and datasets again and again
def _repo_id_problem(repo_id: str, need_owner: bool) -> str | None:
    if need_owner and repo_id.count("/") != 1:
        return f"{repo_id!r} must be `owner/name`"
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        return str(e)
    return None


_LEGACY_DATASET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


def dataset_id_problem(ds: str) -> str | None:
    """Dataset ids are `owner/name`, or a legacy canonical name without owner."""
    if isinstance(ds, str) and "/" not in ds:
        return None if _LEGACY_DATASET.match(ds) and ".." not in ds and "--" not in ds else (
            f"{ds!r} is not a valid dataset id")
    return repo_id_problem(ds, need_owner=True)


def license_link_problem(link: str) -> str | None:
    if link in LICENSE_FILES or re.match(r"^https?://[^\s/]+\.[^\s]+$", link or ""):
        return None
    return f"license_link {link!r} must be a URL or one of {', '.join(LICENSE_FILES)}"
