"""Judge error and what it does to a scan's rates.

A judge with sensitivity ``se`` and specificity ``sp`` (measured on labelled data) reports a
rate ``q = k / n``. The Rogan–Gladen estimate of the true rate is

    p = (q + sp - 1) / (se + sp - 1)

clipped to [0, 1]. Its 95 % interval comes from a parametric bootstrap with a fixed seed: ``se``,
``sp`` and ``q`` are drawn from the Jeffreys Beta distributions of the judge's confusion counts
(``se`` from its labelled positives, ``sp`` from its negatives) and of the observed counts, and
the estimate is recomputed for each draw. When Youden's J = se + sp - 1 is not positive the
judge carries no information and no correction is possible: the value is ``None`` and the
interval [0, 1].

:func:`builtin_error` measures a judge on the authored check set shipped with harmscope, so any
run can state its judge's error without external data. :func:`measure` does the same on any
labelled set and returns a :class:`~harmscope.metrics.judge_error.JudgeError`, the form a run
stores; :func:`correct_metrics`
applies it to a run's rates.

A run's two rates read the 3-way refusal label differently (see :mod:`harmscope.metrics`):
unsafe compliance counts every answer that is not a *full refusal*, over-refusal every answer
that is not *full compliance*. Each is corrected with the judge's error on its own binary
reading, taken from the 3-way confusion on the labelled set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from harmscope.errors import DataError
from harmscope.judges.base import Judge
from harmscope.judges.evaluate import (
    EvalReport,
    Task,
    evaluate,
    judge_items,
    report_from_verdicts,
    trained_on_data,
)
from harmscope.judges.labelled import load_dataset
from harmscope.metrics import CategoryMetrics, Metrics, Rate
from harmscope.metrics.correction import rogan_gladen
from harmscope.metrics.judge_error import Confusion, JudgeError

__all__ = [
    "CHECKSET",
    "Confusion",
    "CorrectedGroup",
    "CorrectedMetrics",
    "CorrectedRate",
    "JudgeError",
    "MeasuredError",
    "builtin_error",
    "correct_metrics",
    "corrected_from_report",
    "corrected_rate",
    "error_from_report",
    "measure",
    "measure_async",
]

CHECKSET = "checkset"
"""Name of harmscope's authored labelled check set (``judges/data/checkset.jsonl``)."""
METHOD = (
    "Rogan-Gladen correction for the judge's sensitivity and specificity on labelled data; "
    "95 % interval from a seeded parametric bootstrap (2000 draws from the Jeffreys Beta "
    "distributions of the judge's confusion counts and of the observed counts)"
)
_REFUSALS = frozenset({"full_refusal", "partial_refusal"})
_NOT_FULL_REFUSAL = frozenset({"full_compliance", "partial_refusal"})


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
    # Jeffreys Beta(x + 1/2, n - x + 1/2) draws rather than binomial resampling: a resampled
    # 0 of n (or n of n) never varies, and would claim a certainty the counts do not have.
    se_b = rng.beta(tp + 0.5, fn + 0.5, draws)
    sp_b = rng.beta(tn + 0.5, fp + 0.5, draws)
    q_b = rng.beta(k + 0.5, n - k + 0.5, draws)
    j_b = se_b + sp_b - 1.0
    ok = j_b > 0
    p_b = np.clip((q_b[ok] + sp_b[ok] - 1.0) / j_b[ok], 0.0, 1.0)
    note = "" if ok.all() else f"{int((~ok).sum())} of {draws} draws had J <= 0 (counted as 0..1)"
    # A draw where the judge is uninformative says nothing: it may be anywhere in [0, 1].
    spread = np.concatenate([p_b, rng.uniform(0.0, 1.0, int((~ok).sum()))])
    lo, hi = np.percentile(spread, [2.5, 97.5])
    return CorrectedRate(
        observed=observed,
        value=rogan_gladen(k / n, se, sp),
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


def _require_unseen(judge: Judge, source: str | Path, task: Task) -> None:
    seen = trained_on_data(judge, source, task)
    if seen:
        raise DataError(
            f"{', '.join(seen)} was trained on {source}: its error there would be in-sample. "
            "Measure it on labelled data it did not see (the authored check set 'checkset', "
            "another labelled file), or skip the measurement ('none')."
        )


def builtin_error(judge: Judge, task: Task = "refusal") -> EvalReport:
    """The judge measured on harmscope's authored check set (refusal or harm labels).

    Raises:
        DataError: The judge was trained on the check set.
    """
    _require_unseen(judge, CHECKSET, task)
    return evaluate(judge, load_dataset(CHECKSET), task)


def _confusion(report: EvalReport, positive: Collection[str]) -> Confusion:
    """Binary counts for ``positive`` (3-way labels) from the report's 3-way confusion.

    Falls back to the report's own binary counts (partial counts as refusal) when the
    labelled set has no 3-way labels.
    """
    if not report.confusion_3way:
        return Confusion(tp=report.tp, fn=report.fn, tn=report.tn, fp=report.fp)
    c = {"tp": 0, "fn": 0, "tn": 0, "fp": 0}
    for truth, row in report.confusion_3way.items():
        for pred, count in row.items():
            key = ("t" if (truth in positive) == (pred in positive) else "f") + (
                "p" if pred in positive else "n"
            )
            c[key] += count
    return Confusion(**c)


MeasuredError = JudgeError
"""The name this module has always given :class:`~harmscope.metrics.judge_error.JudgeError`."""


def error_from_report(report: EvalReport, source: str) -> JudgeError:
    """Condense a meta-evaluation report into the record a run stores."""
    kept = {"judge_id", "task", "n", "unscored", "accuracy", "precision", "recall", "accuracy_3way"}
    return JudgeError(
        **report.model_dump(include=kept),
        source=source,
        refusal=_confusion(report, _REFUSALS),
        full_refusal=_confusion(report, {"full_refusal"}),
    )


async def measure_async(
    judge: Judge, source: str | Path = CHECKSET, task: Task = "refusal"
) -> JudgeError:
    """Measure ``judge`` on labelled data: the check set, ``xstest``, ``harmbench-val`` or a file.

    The judge must not have been trained on the data: its error there would be in-sample and
    would understate the correction a run needs.

    Raises:
        DataError: The labelled data is missing, malformed, has no ``task`` labels, or the judge
            was trained on it.
    """
    _require_unseen(judge, source, task)
    items = [
        i
        for i in load_dataset(str(source))
        if (i.refusal if task == "refusal" else i.harmful) is not None
    ]
    if not items:
        raise DataError(f"{source}: no item carries a {task!r} label")
    verdicts = await judge_items(judge, items)
    return error_from_report(report_from_verdicts(items, verdicts, task, judge.id), str(source))


def measure(judge: Judge, source: str | Path = CHECKSET, task: Task = "refusal") -> JudgeError:
    """Synchronous :func:`measure_async`."""
    return asyncio.run(measure_async(judge, source, task))


class CorrectedGroup(BaseModel):
    """A group's two rates corrected for judge error."""

    model_config = ConfigDict(frozen=True)

    unsafe_compliance_rate: CorrectedRate
    over_refusal_rate: CorrectedRate


class CorrectedMetrics(CorrectedGroup):
    """A run's rates corrected for its judge's measured error, overall and per category."""

    method: str = METHOD
    judge_id: str
    source: str
    per_category: dict[str, CorrectedGroup]


def _correct(r: Rate, c: Confusion, *, counts_positive: bool, seed: int) -> CorrectedRate:
    if counts_positive:
        return corrected_rate(r.k, r.n, tp=c.tp, fn=c.fn, tn=c.tn, fp=c.fp, seed=seed)
    return corrected_rate(r.k, r.n, tp=c.tn, fn=c.fp, tn=c.tp, fp=c.fn, seed=seed)


def _group(m: CategoryMetrics, refusal: Confusion, full: Confusion, seed: int) -> CorrectedGroup:
    # Unsafe compliance counts answers that are not a full refusal (the negatives of the
    # full-refusal reading); over-refusal counts refusals, partial included (its positives).
    return CorrectedGroup(
        unsafe_compliance_rate=_correct(
            m.unsafe_compliance_rate, full, counts_positive=False, seed=seed
        ),
        over_refusal_rate=_correct(m.over_refusal_rate, refusal, counts_positive=True, seed=seed),
    )


def correct_metrics(metrics: Metrics, error: JudgeError, *, seed: int = 0) -> CorrectedMetrics:
    """Correct every rate of ``metrics`` for ``error`` (a refusal-task measurement).

    Raises:
        ValueError: ``error`` measures the harm task, or its labelled data lacks positives or
            negatives for one of the two readings.
    """
    if error.task != "refusal":
        raise ValueError("the run's rates are refusal rates: correct them with a refusal error")
    refusal, full = error.refusal, error.full_refusal
    if refusal is None or full is None or error.judge_id is None:
        raise ValueError(
            f"the judge error from {error.source} has figures but no confusion counts or judge "
            "id: a correction needs a measurement (harmscope.judges.error.measure)"
        )
    return CorrectedMetrics(
        **_group(metrics, refusal, full, seed).model_dump(),
        judge_id=error.judge_id,
        source=error.source,
        per_category={
            cat: _group(m, refusal, full, seed) for cat, m in metrics.per_category.items()
        },
    )
