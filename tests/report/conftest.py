"""Fixtures for the report tests."""

from __future__ import annotations

import pytest
from report_helpers import FIRST, SECOND, run_cases

from harmscope.store import SQLiteStore


@pytest.fixture
def two_runs(tmp_path):
    """Two runs in one store: the second refuses more (safer, less helpful)."""
    store = SQLiteStore(tmp_path / "runs.db")
    first = run_cases(store, FIRST)
    second = run_cases(store, SECOND)
    yield store, first, second
    store.close()
