"""Run storage: SQLite (WAL) by default, with JSONL and Parquet export."""

from __future__ import annotations

from harmscope.store.export import export_run
from harmscope.store.sqlite import RunInfo, RunStatus, SQLiteStore, cache_key, lease_owner

__all__ = [
    "DEFAULT_DB",
    "RunInfo",
    "RunStatus",
    "SQLiteStore",
    "cache_key",
    "export_run",
    "lease_owner",
]

DEFAULT_DB = "harmscope.db"
"""The store file used when none is named, in the working directory."""
