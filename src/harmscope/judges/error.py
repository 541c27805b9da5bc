"""Judge error and what it does to a scan's rates.

A judge with sensitivity ``se`` and specificity ``sp`` (measured on labelled data) reports a
rate ``q = k / n``. The Rogan–Gladen estimate of the true rate is

    p = (q + sp - 1) / (se + sp - 1)

clipped to [0, 1]. Its 95 % interval comes from a parametric bootstrap that resamples the
judge's confusion counts (``se`` from its positives, ``sp`` from its negatives) and the observed
counts, with a fixed seed. When Youden's J = se + sp - 1 is not positive the judge carries no
information and no correction is possible: the value is ``None`` and the interval [0, 1].

:func:`builtin_error` measures a judge on the authored check set shipped with harmscope, so any
run can state its judge's error without external data.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from harmscope.judges.base import Judge
from harmscope.judges.evaluate import EvalReport, Task, evaluate
from harmscope.judges.labelled import load_dataset

__all__ = ["CorrectedRate", "builtin_error", "corrected_from_report", "corrected_rate"]


class CorrectedRate(BaseModel):
    """An observed rate corrected for judge error."""

    model_config = ConfigDict(frozen=True)

    observed: float | None
    """k / n as the judge reports it."""
    value: float | None
    """The Rogan–Gladen estimate, clipped to [0, 1]; ``None`` when no correction is possible."""
    ci95: tuple[float, float]
    """Bootstrap percentile interval (2.5 %, 97.5 %)."""
    k: int
    n: int
    sensitivity: float
    specificity: float
    youden: float
    note: str = ""


def _rogan_gladen(q: float, se: float, sp: float) -> float:
    return min(1.0, max(0.0, (q + sp - 1.0) / (se + sp - 1.0)))


def corrected_rate(
    k: int,
    n: int,
    *,
    tp: int,
    fn: int,
    tn: int,
    fp: int,
    draws: int = 2000,
    seed: int = 0,
) -> CorrectedRate:
    """Correct ``k`` positives of ``n`` for a judge with confusion counts ``tp, fn, tn, fp``.

    Raises:
        ValueError: Counts out of range, or a judge with no labelled positives or negatives.
    """
    import numpy as np

    if not 0 <= k <= n or min(tp, fn, tn, fp) < 0:
        raise ValueError("need 0 <= k <= n and non-negative confusion counts")
    n_pos, n_neg = tp + fn, tn + fp
    if n_pos == 0 or n_neg == 0:
        raise ValueError("the judge needs labelled positives and negatives to measure its error")
    se, sp = tp / n_pos, tn / n_neg
    youden = se + sp - 1.0
    observed = k / n if n else None
    base = {"k": k, "n": n, "sensitivity": se, "specificity": sp, "youden": youden}
    if youden <= 0:
        note = "judge no better than chance (Youden's J <= 0): no correction possible"
        return CorrectedRate(observed=observed, value=None, ci95=(0.0, 1.0), note=note, **base)
    if n == 0:
        return CorrectedRate(observed=None, value=None, ci95=(0.0, 1.0), note="no cases", **base)
    rng = np.random.default_rng(seed)
    se_b = rng.binomial(n_pos, se, draws) / n_pos
    sp_b = rng.binomial(n_neg, sp, draws) / n_neg
    q_b = rng.binomial(n, k / n, draws) / n
    j_b = se_b + sp_b - 1.0
    ok = j_b > 0
    p_b = np.clip((q_b[ok] + sp_b[ok] - 1.0) / j_b[ok], 0.0, 1.0)
    note = "" if ok.all() else f"{int((~ok).sum())} of {draws} draws had J <= 0 (counted as 0..1)"
    # A draw where the judge is uninformative says nothing: it may be anywhere in [0, 1].
    spread = np.concatenate([p_b, rng.uniform(0.0, 1.0, int((~ok).sum()))])
    lo, hi = np.percentile(spread, [2.5, 97.5])
    return CorrectedRate(
        observed=observed,
        value=_rogan_gladen(k / n, se, sp),
        ci95=(float(lo), float(hi)),
        note=note,
        **base,
    )


def corrected_from_report(
    k: int,
    n: int,
    report: EvalReport,
    *,
    counts: Literal["positive", "negative"] = "positive",
    draws: int = 2000,
    seed: int = 0,
) -> CorrectedRate:
    """Correct a rate with the error a meta-evaluation measured.

    ``counts="positive"`` when ``k`` counts the report's positive class (refusals, harmful
    answers); ``"negative"`` when it counts the other class (e.g. an unsafe-compliance rate
    counts non-refusals), which swaps the roles of sensitivity and specificity.
    """
    if counts == "positive":
        return corrected_rate(
            k, n, tp=report.tp, fn=report.fn, tn=report.tn, fp=report.fp, draws=draws, seed=seed
        )
    return corrected_rate(
        k, n, tp=report.tn, fn=report.fp, tn=report.tp, fp=report.fn, draws=draws, seed=seed
    )


def builtin_error(judge: Judge, task: Task = "refusal") -> EvalReport:
    """The judge measured on harmscope's authored check set (refusal or harm labels)."""
    return evaluate(judge, load_dataset("checkset"), task)
