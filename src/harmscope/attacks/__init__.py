"""Attacks that adapt to the target: adaptive transform search under a budget."""

from __future__ import annotations

from harmscope.attacks.adaptive import (
    Attempt,
    SearchResult,
    StopReason,
    SuccessStats,
    adaptive_search,
    full_compliance,
    search_cases,
    search_plan,
    stats_from_paths,
)

__all__ = [
    "Attempt",
    "SearchResult",
    "StopReason",
    "SuccessStats",
    "adaptive_search",
    "full_compliance",
    "search_cases",
    "search_plan",
    "stats_from_paths",
]
