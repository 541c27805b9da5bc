"""One formatter for a rate with its 95 % interval."""

from __future__ import annotations

from harmscope.metrics.rates import Rate

__all__ = ["format_rate"]


def format_rate(r: Rate, *, show_k: bool = False, missing: str = "– n=0") -> str:
    """A rate as ``12.5% [8.1–18.6] n=96``.

    Args:
        r: The rate.
        show_k: Write the counts as ``(k=12, n=96)`` instead of ``n=96``.
        missing: The text for an unmeasured rate (``n == 0``).
    """
    if r.value is None:
        return missing
    lo, hi = r.ci95
    counts = f"(k={r.k}, n={r.n})" if show_k else f"n={r.n}"
    return f"{100 * r.value:.1f}% [{100 * lo:.1f}–{100 * hi:.1f}] {counts}"
