"""Judge-error correction of rates (Rogan–Gladen with a bootstrap interval)."""

from __future__ import annotations

import pytest

from harmscope.judges import load_judge
from harmscope.judges.error import builtin_error, corrected_from_report, corrected_rate
from harmscope.judges.evaluate import report_from_verdicts
from harmscope.judges.labelled import LabelledItem
from harmscope.records import Verdict


def test_rogan_gladen_by_hand() -> None:
    # se = 90/100, sp = 80/100, q = 30/100: p = (0.3 + 0.8 - 1) / (0.9 + 0.8 - 1) = 1/7
    r = corrected_rate(30, 100, tp=90, fn=10, tn=80, fp=20)
    assert r.sensitivity == pytest.approx(0.9) and r.specificity == pytest.approx(0.8)
    assert r.youden == pytest.approx(0.7) and r.observed == pytest.approx(0.3)
    assert r.value == pytest.approx(1 / 7)
    lo, hi = r.ci95
    assert 0.0 <= lo < 1 / 7 < hi <= 1.0
    assert r == corrected_rate(30, 100, tp=90, fn=10, tn=80, fp=20)  # fixed seed


def test_interval_narrows_with_a_better_measured_judge() -> None:
    small = corrected_rate(30, 100, tp=9, fn=1, tn=8, fp=2)
    large = corrected_rate(30, 100, tp=900, fn=100, tn=800, fp=200)
    assert small.value == pytest.approx(large.value)
    assert small.ci95[1] - small.ci95[0] > large.ci95[1] - large.ci95[0]


def test_perfect_judge_keeps_the_observed_rate() -> None:
    # A perfect record on many labels leaves only the observed counts' uncertainty: about
    # the Wilson interval of 20/200, (0.066, 0.149).
    sure = corrected_rate(20, 200, tp=5000, fn=0, tn=5000, fp=0)
    assert sure.value == pytest.approx(0.1)
    assert sure.ci95[0] == pytest.approx(0.066, abs=0.01)
    assert sure.ci95[1] == pytest.approx(0.149, abs=0.01)
    # The same record on 50 + 50 labels does not prove perfection: the interval widens.
    few = corrected_rate(20, 200, tp=50, fn=0, tn=50, fp=0)
    assert few.value == pytest.approx(0.1)
    assert few.ci95[0] < sure.ci95[0] and few.ci95[1] >= sure.ci95[1] - 0.005


def test_an_observed_extreme_still_has_an_interval() -> None:
    # 12 of 12 observed: resampling 12/12 would always give 12/12; the interval must not be a point.
    r = corrected_rate(12, 12, tp=60, fn=5, tn=50, fp=7)
    assert r.value == 1.0 and r.ci95[1] == 1.0 and r.ci95[0] < 0.95


def test_clipping_and_degenerate_judges() -> None:
    assert corrected_rate(0, 50, tp=90, fn=10, tn=80, fp=20).value == 0.0  # raw (0 - .2)/.7 < 0
    assert corrected_rate(50, 50, tp=90, fn=10, tn=80, fp=20).value == 1.0
    chance = corrected_rate(10, 50, tp=5, fn=5, tn=5, fp=5)
    assert chance.value is None and chance.ci95 == (0.0, 1.0) and "no correction" in chance.note
    with pytest.raises(ValueError):
        corrected_rate(10, 50, tp=5, fn=5, tn=0, fp=0)


def test_from_report_swaps_roles_for_the_negative_class() -> None:
    items = [
        LabelledItem(id=str(i), prompt="p", response="r", refusal=t)
        for i, t in enumerate([True] * 10 + [False] * 10)
    ]
    preds = (
        ["full_refusal"] * 9 + ["full_compliance"] + ["full_compliance"] * 8 + ["full_refusal"] * 2
    )
    verdicts = [Verdict(case_id=str(i), judge_id="j@1", refusal=p) for i, p in enumerate(preds)]  # type: ignore[arg-type]
    report = report_from_verdicts(items, verdicts, "refusal", "j@1")
    pos = corrected_from_report(30, 100, report)
    neg = corrected_from_report(70, 100, report, counts="negative")
    assert pos.sensitivity == pytest.approx(0.9) and neg.sensitivity == pytest.approx(0.8)
    assert pos.value is not None and neg.value is not None
    assert pos.value + neg.value == pytest.approx(1.0)  # the same correction, seen from each side


def test_builtin_error_of_the_keyword_judge() -> None:
    report = builtin_error(load_judge("keyword"))
    assert report.total >= 120 and report.unscored == 0
    assert report.accuracy is not None and report.accuracy > 0.8
