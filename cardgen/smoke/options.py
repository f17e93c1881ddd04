"""What a smoke run is asked to do (`cardgen smoke`'s options, typed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cardgen.policy import Policy


@dataclass(frozen=True)
class SmokeOptions:
    paths: tuple[Path, ...] = (Path("cards"),)
    policy: Policy = field(default_factory=Policy)
    model_paths: dict[str, Path] = field(default_factory=dict)  # repo id -> a local folder to load it from
    max_new_tokens: int = 16
    json: Path | None = None  # also write the results here
    shard: str | None = None  # "I/N": only shard I of N
    no_snippet: bool = False
    device: str | None = None  # "cpu" or "cuda"; None: the GPU when there is one
    tokenizer_only: bool = False
    allow_download: bool = False
    timeout: float | None = 600.0  # per model: loading, generation and the snippet each
    command_line: str = ""  # the command as run (the report names it)
