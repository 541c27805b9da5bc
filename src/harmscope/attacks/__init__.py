"""Attacks that adapt to the target: adaptive transform search under a budget.

``adaptive`` searches one case; ``run`` attacks many (resume, JSONL rows, the summary).
"""

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
from harmscope.attacks.run import (
    AttackPlan,
    AttackResult,
    AttackRow,
    AttackStart,
    AttackStep,
    RankedTransform,
    read_paths,
    run_attack,
    run_attack_sync,
    should_refuse_cases,
)

__all__ = [
    "AttackPlan",
    "AttackResult",
    "AttackRow",
    "AttackStart",
    "AttackStep",
    "Attempt",
    "RankedTransform",
    "SearchResult",
    "StopReason",
    "SuccessStats",
    "adaptive_search",
    "full_compliance",
    "read_paths",
    "run_attack",
    "run_attack_sync",
    "search_cases",
    "search_plan",
    "should_refuse_cases",
    "stats_from_paths",
]
