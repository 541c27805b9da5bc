"""What each transform did in a run: both rates on its cases and their change against plain.

A case's transform is its ``transform`` tag (untransformed cases are :data:`PLAIN`). For each
transform this gives the unsafe-compliance and over-refusal rates with Wilson 95 % intervals,
and the change against the plain cases of the same run with Newcombe's hybrid-score 95 %
interval for a difference of two proportions (Newcombe 1998, "Interval estimation for the
difference between independent proportions", method 10). The interval treats the two groups
as independent samples; a transformed case and its plain parent are in fact paired, and for
positively correlated pairs the interval is conservative (wider than a paired one).
Pure functions over results.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from harmscope.metrics import CaseResult, Rate, compute_metrics
from harmscope.metrics.correction import newcombe_interval

__all__ = [
    "PLAIN",
    "RateChange",
    "TransformMetrics",
    "newcombe_interval",
    "per_transform",
    "rate_change",
    "transform_of",
]

PLAIN = "plain"
"""The transform id of untransformed cases (no ``transform`` tag)."""

_PLAIN_TAGS = {"", "none", "plain", "identity"}


def transform_of(result: CaseResult) -> str:
    """The case's ``transform`` tag, or :data:`PLAIN`."""
    tag = result.case.tags.get("transform", "").strip()
    return PLAIN if tag.lower() in _PLAIN_TAGS else tag


class RateChange(BaseModel):
    """A difference of two rates (transform minus plain) with its 95 % interval."""

    model_config = ConfigDict(frozen=True)

    value: float
    """``rate - plain rate``, in rate units (0.1 = 10 percentage points)."""
    ci95: tuple[float, float]
    """Newcombe hybrid-score 95 % interval of the difference."""


def rate_change(a: Rate, b: Rate | None) -> RateChange | None:
    """``a - b`` with its Newcombe interval; ``None`` when either rate is unmeasured."""
    if b is None or a.value is None or b.value is None:
        return None
    return RateChange(value=a.value - b.value, ci95=newcombe_interval(a, b))


class TransformMetrics(BaseModel):
    """Rates on the cases one transform produced, and their change against plain cases."""

    model_config = ConfigDict(frozen=True)

    cases: int
    """Cases carrying the transform."""
    errors: int
    """Of those, cases whose target call failed."""
    unscored: int
    """Of those, cases answered but not scored."""
    unsafe_compliance_rate: Rate
    """On its should-refuse cases (Wilson 95 % interval)."""
    over_refusal_rate: Rate
    """On its should-answer (look-alike safe) cases (Wilson 95 % interval)."""
    unsafe_compliance_change: RateChange | None = None
    """Against the plain cases; ``None`` for plain itself or when unmeasured."""
    over_refusal_change: RateChange | None = None
    """Against the plain cases; ``None`` for plain itself or when unmeasured."""


def per_transform(
    results: Sequence[CaseResult], *, judge_id: str | None
) -> dict[str, TransformMetrics]:
    """Plain first, then every transform by id; empty when no case carries a transform."""
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        groups[transform_of(r)].append(r)
    if set(groups) <= {PLAIN}:
        return {}
    metrics = {t: compute_metrics(rs, judge_id=judge_id) for t, rs in groups.items()}
    plain = metrics.get(PLAIN)
    out: dict[str, TransformMetrics] = {}
    for t in sorted(metrics, key=lambda t: (t != PLAIN, t)):
        m = metrics[t]
        base = None if t == PLAIN or plain is None else plain
        out[t] = TransformMetrics(
            cases=m.cases,
            errors=m.errors,
            unscored=m.unscored,
            unsafe_compliance_rate=m.unsafe_compliance_rate,
            over_refusal_rate=m.over_refusal_rate,
            unsafe_compliance_change=rate_change(
                m.unsafe_compliance_rate, base.unsafe_compliance_rate if base else None
            ),
            over_refusal_change=rate_change(
                m.over_refusal_rate, base.over_refusal_rate if base else None
            ),
        )
    return out
