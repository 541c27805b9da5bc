"""Metrics in one place: rates with Wilson intervals, ranking metrics, corrections, formatting.

Every submodule is pure Python at import time; numpy is imported lazily where used.
"""

from __future__ import annotations

from harmscope.metrics.classification import BinaryMetrics
from harmscope.metrics.correction import newcombe_interval, rogan_gladen
from harmscope.metrics.format import format_rate
from harmscope.metrics.ranking import auroc, average_precision
from harmscope.metrics.rates import (
    CaseResult,
    CategoryMetrics,
    Metrics,
    Rate,
    compute_metrics,
    outcome,
    rate,
    wilson_interval,
)

__all__ = [
    "BinaryMetrics",
    "CaseResult",
    "CategoryMetrics",
    "Metrics",
    "Rate",
    "auroc",
    "average_precision",
    "compute_metrics",
    "format_rate",
    "newcombe_interval",
    "outcome",
    "rate",
    "rogan_gladen",
    "wilson_interval",
]
