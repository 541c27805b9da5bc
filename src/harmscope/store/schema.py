"""The store's tables, its run header record and the response-cache key."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict

from harmscope.config import RunConfig
from harmscope.records import Case, GenerationParams

__all__ = ["SCHEMA", "RunInfo", "RunStatus", "cache_key"]

RunStatus = Literal["running", "complete", "stopped"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, finished_at TEXT,
    status TEXT NOT NULL, config TEXT NOT NULL, suite_ref TEXT NOT NULL,
    target_id TEXT NOT NULL, judges TEXT NOT NULL, schema_version INTEGER NOT NULL,
    note TEXT);
CREATE TABLE IF NOT EXISTS run_cases (
    run_id TEXT NOT NULL REFERENCES runs(run_id), ord INTEGER NOT NULL,
    case_id TEXT NOT NULL, case_json TEXT NOT NULL, PRIMARY KEY (run_id, case_id));
CREATE TABLE IF NOT EXISTS responses (
    run_id TEXT NOT NULL, case_id TEXT NOT NULL, cache_key TEXT NOT NULL,
    response_json TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, case_id));
CREATE TABLE IF NOT EXISTS verdicts (
    run_id TEXT NOT NULL, case_id TEXT NOT NULL, judge_id TEXT NOT NULL,
    verdict_json TEXT NOT NULL, PRIMARY KEY (run_id, case_id, judge_id));
CREATE TABLE IF NOT EXISTS cache (
    cache_key TEXT PRIMARY KEY, response_json TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS judge_errors (
    run_id TEXT NOT NULL, judge_id TEXT NOT NULL, task TEXT NOT NULL, report_json TEXT NOT NULL,
    PRIMARY KEY (run_id, judge_id, task));
CREATE TABLE IF NOT EXISTS leases (
    run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    heartbeat REAL NOT NULL);
"""


class RunInfo(BaseModel):
    """A stored run's header."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    """Short unique id."""
    created_at: str
    """ISO-8601 UTC."""
    finished_at: str | None
    """When the last case was stored, if the run completed."""
    status: RunStatus
    """``running`` also covers runs that were killed: resume them."""
    config: RunConfig
    """What was asked for."""
    suite_ref: str
    """``name@version`` of the suite."""
    target_id: str
    """The target's id."""
    judges: tuple[str, ...]
    """Judge ids (``name@version``) that score the run."""


def cache_key(target_id: str, case: Case, params: GenerationParams, *, system: str = "") -> str:
    """Key of a cached response: same system, same conversation, same parameters.

    Args:
        target_id: ``provider/model``.
        case: Only its messages count (its id does not).
        params: Every generation parameter, the system prompt included.
        system: Whatever else tells one system under test from another (a target's
            ``cache_tag``: endpoint URL, latent probe; the run mode). Never a secret.
    """
    raw = "\x00".join((target_id, case.content_hash(), params.cache_key(), system))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]
