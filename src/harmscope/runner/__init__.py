"""Orchestration of runs."""

from __future__ import annotations

from harmscope.runner.run import Progress, RunSummary, run, run_async, summarize
from harmscope.runner.scan import scan, scan_async

__all__ = ["Progress", "RunSummary", "run", "run_async", "scan", "scan_async", "summarize"]
