"""The shape of `cardgen smoke`'s report, as `--format json` prints it and `--json FILE` writes it
(`schemas/smoke.schema.json`, written by `cardgen schema`): the diagnostics of the cards smoked, one result
per model (each failure with its stable code and check, the digests of the files judged), and the run's
document (versions, tier, command line, start time)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmokeDiagnostic(_Closed):
    file: str
    line: int
    col: int
    code: str = Field(pattern=r"^CG\d{3}$")
    message: str
    severity: Literal["error", "warning"]


class SmokeFailure(_Closed):
    """One failure: its stable code (`cardgen codes` lists them; CG949 for one without a code of its own), the
    check it came from, and its message (the `FAIL:` line)."""

    code: str = Field(pattern=r"^CG\d{3}$")
    check: str
    message: str


class SmokeModelResult(BaseModel):
    """One model's result (a result may carry further figures: extra keys are allowed)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="the repository, and `@branch` for a branch variant")
    repo_id: str
    branch: str | None
    ok: bool
    skipped: str | None = Field(description="why nothing could be run (not a failure)")
    style: str
    device: str
    dtype: str
    failures: list[str]
    problems: list[SmokeFailure] = Field(description="each failure with its code and check, in order")
    warnings: list[str]
    checks: dict[str, Literal["ok", "failed", "skipped"]] = Field(description="each check run, and its outcome")
    snippet: Literal["ok", "failed", "skipped"] | None
    digests: dict[str, str] = Field(description="sha256 of each weight, tokenizer and configuration file judged")
    peak_host_mb: float | None = Field(description="the host's peak memory while this model was judged")
    peak_gpu_mb: float | None
    log: list[str] = Field(description="what transformers and its kin logged while this model was judged")
    source: str


class SmokeRun(_Closed):
    versions: dict[str, str]
    tier: Literal["tokenizer", "full"]
    command_line: str
    started: str = Field(description="when the run started, ISO 8601 in UTC")
    seconds: float


class SmokeReport(_Closed):
    """`cardgen smoke --format json`, and the file `--json FILE` writes: the same document."""

    command: Literal["smoke"]
    cardgen: str
    vocabulary: dict[str, str]
    checked: str
    errors: int
    warnings: int
    failures: dict[str, int] = Field(description="how many models failed")
    diagnostics: list[SmokeDiagnostic]
    results: list[SmokeModelResult]
    notes: list[str]
    document: SmokeRun

