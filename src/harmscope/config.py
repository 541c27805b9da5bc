"""Run configuration and settings read from the environment at the edges."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harmscope.errors import NotFoundError
from harmscope.records import SCHEMA_VERSION, GenerationParams

__all__ = ["DATA_DIR_ENV", "RunConfig", "resolve_data_dir"]

DATA_DIR_ENV = "HARMSCOPE_DATA_DIR"
"""Environment variable naming the folder that holds the public datasets."""


class TargetOptions(BaseModel):
    """What a target factory is given besides the model name (never the whole run config)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = None
    """Endpoint for HTTP targets."""
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    """Requests in flight at once; ``None``: the target provider's default (``harmscope
    targets`` lists it)."""
    retries: int = Field(default=3, ge=0, le=20)
    """Retries per request for transient target errors."""
    timeout_s: float = Field(default=120.0, gt=0)
    """Per-request timeout for HTTP targets."""
    max_retry_wait_s: float = Field(default=120.0, ge=0)
    """Longest ``Retry-After`` an HTTP target waits for; a longer one fails the request."""
    latent_probe: str | None = None
    """Local targets: folder of a fitted latent probe whose signals (harm belief, refusal) each
    response records; ``None`` uses the probe shipped for the model, if any; ``"none"``: off."""


class RunConfig(TargetOptions):
    """Everything that defines a scan; stored with the run so it can be resumed.

    ``RunConfig()`` is the scan ``harmscope scan`` runs with no options.
    """

    schema_version: int = Field(default=SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION)
    """Record layout version (:data:`harmscope.records.SCHEMA_VERSION`); a config written by a
    newer harmscope is rejected on read rather than misread."""
    target: str = "hf/default"
    """``provider/model`` of the system under test."""
    suite: str = "core"
    """Registered suite name or path to a suite / labelled-prompt JSONL file."""
    limit: int | None = Field(default=None, ge=1)
    """Run a stratified sample of at most this many cases."""
    seed: int = 0
    """Seed for sampling the suite (and for sampling targets)."""
    judges: tuple[str, ...] = ("keyword",)
    """Registered judge names; the first refusal judge drives the headline rates."""
    judge_check: str | None = "checkset"
    """Labelled data the first judge is measured on before the run, to correct its rates:
    ``checkset`` (harmscope's authored check set), ``xstest``, ``harmbench-val`` or a
    labelled-response JSONL path; ``None`` skips the measurement."""
    params: GenerationParams = Field(default_factory=GenerationParams)
    """Generation parameters, part of the response cache key."""
    transforms: tuple[str, ...] = ()
    """Transform specs (ids, families or ``a+b`` compositions); each case also runs under each."""
    transform_product: bool = False
    """Also run compositions taking one transform from each spec, besides the single
    transforms (at most ``max_compositions``)."""
    max_compositions: int = Field(default=64, ge=1)
    """Most compositions ``transform_product`` adds (a sample seeded by ``seed``)."""
    multiturn: Literal["scripted", "live"] = "scripted"
    """Multi-turn cases: ``scripted`` sends the whole authored history at once; ``live`` sends
    one user turn at a time with the target's own earlier answers as history, and scores the
    final answer and the whole conversation."""
    max_requests: int | None = Field(default=None, ge=1)
    """Stop cleanly (resumable) after this many target requests in one invocation."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Stop cleanly (resumable) before the estimated tokens of one invocation exceed this."""

    def target_options(self) -> TargetOptions:
        """The part of this config a target factory is given."""
        return TargetOptions(**self.model_dump(include=set(TargetOptions.model_fields)))


def resolve_data_dir(explicit: str | Path | None = None) -> Path:
    """Where the public datasets live: ``explicit``, else ``$HARMSCOPE_DATA_DIR``.

    Raises:
        NotFoundError: Neither is set, or the folder does not exist.
    """
    raw = explicit or os.environ.get(DATA_DIR_ENV)
    if not raw:
        raise NotFoundError(
            f"no data folder: pass --data-dir or set {DATA_DIR_ENV} to the folder holding "
            "the public datasets"
        )
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise NotFoundError(f"data folder {path} does not exist")
    return path
