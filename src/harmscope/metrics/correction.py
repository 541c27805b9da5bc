"""Corrections and differences of rates: Rogan–Gladen and Newcombe's hybrid-score interval."""

from __future__ import annotations

import math

from harmscope.metrics.rates import Rate

__all__ = ["newcombe_interval", "rogan_gladen"]


def rogan_gladen(q: float, se: float, sp: float) -> float:
    """The Rogan–Gladen estimate ``(q + sp - 1) / (se + sp - 1)``, clipped to [0, 1].

    Args:
        q: The observed rate.
        se: The judge's sensitivity.
        sp: The judge's specificity.

    Returns:
        The estimated true rate; the caller ensures Youden's J = se + sp - 1 is positive.
    """
    return min(1.0, max(0.0, (q + sp - 1.0) / (se + sp - 1.0)))


def newcombe_interval(a: Rate, b: Rate) -> tuple[float, float]:
    """Newcombe's hybrid-score 95 % interval for ``a - b`` from the two Wilson intervals.

    With ``d = p_a - p_b`` and Wilson bounds ``(l_a, u_a)``, ``(l_b, u_b)``:
    ``d - sqrt((p_a - l_a)^2 + (u_b - p_b)^2)`` to ``d + sqrt((u_a - p_a)^2 + (p_b - l_b)^2)``
    (Newcombe 1998, method 10).

    Raises:
        ValueError: Either rate has no scored case.
    """
    if a.value is None or b.value is None:
        raise ValueError("a difference needs two measured rates")
    (la, ua), (lb, ub) = a.ci95, b.ci95
    d = a.value - b.value
    lo = d - math.sqrt((a.value - la) ** 2 + (ub - b.value) ** 2)
    hi = d + math.sqrt((ua - a.value) ** 2 + (b.value - lb) ** 2)
    return (max(-1.0, lo), min(1.0, hi))
