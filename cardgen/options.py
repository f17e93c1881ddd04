"""Typed options, one class per command: what `cli.py` parses the command line into, and what the
command functions take. No ``argparse.Namespace`` travels past `cli.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .policy import Policy

DEFAULT_CARDS = Path("cards")
DEFAULT_OUT = Path("rendered")
RISK_FORMATS = ("json", "jsonld", "cyclonedx")  # `cardgen export --risks --format`


@dataclass(frozen=True)
class Common:
    paths: tuple[Path, ...] = (DEFAULT_CARDS,)
    format: str = "text"
    jobs: int | None = None  # worker processes; None: chosen from the work, the CPUs and their load
    policy: Policy = field(default_factory=Policy)  # the publisher's policy (cardgen.toml / pyproject.toml)


@dataclass(frozen=True)
class ValidateOptions(Common):
    strict: bool = False


@dataclass(frozen=True)
class RenderOptions(Common):
    out: Path = DEFAULT_OUT
    changed_since: str | None = None  # a git revision: only the cards whose inputs changed since
    changed: tuple[Path, ...] = ()  # only the cards built from these files (dependents included)


@dataclass(frozen=True)
class CheckOptions(Common):
    out: Path = DEFAULT_OUT
    changed_since: str | None = None
    changed: tuple[Path, ...] = ()
    fail: bool = True  # `check` fails on drift; `diff` only shows it


@dataclass(frozen=True)
class ExportOptions(Common):
    format: str = "json"
    risks: bool = True


@dataclass(frozen=True)
class PublishOptions(Common):
    revision: str | None = None
    variants: bool = False
    create_pr: bool = False
    message: str | None = None
    dry_run: bool = False
    force: bool = False
    jobs: int | None = 1
    out: Path | None = None  # the committed READMEs to compare with (default: rendered/)
    timeout: float = 20.0  # seconds to connect or to wait for data, per request
    deadline: float = 55.0  # seconds per repository and branch, all requests and retries together
    retry_after_cap: float = 10.0  # the longest `Retry-After` obeyed, in seconds
    max_readme_bytes: int = 10 * 1024 * 1024  # a README on the Hub larger than this is not read


@dataclass(frozen=True)
class PreviewOptions(Common):
    html: Path | None = None  # write static pages here; None: serve on 127.0.0.1
    port: int = 8000


@dataclass(frozen=True)
class SmokeOptions(Common):
    model_paths: dict[str, Path] = field(default_factory=dict)
    max_new_tokens: int = 16
    json: Path | None = None
    shard: str | None = None
    no_snippet: bool = False
    device: str | None = None
    tokenizer_only: bool = False
    allow_download: bool = False
    timeout: float | None = 600.0
