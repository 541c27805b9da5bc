"""Ranking metrics, corrections and the rate formatter against values computed by hand."""

import pytest

from harmscope.errors import DataError
from harmscope.metrics import (
    BinaryMetrics,
    auroc,
    average_precision,
    format_rate,
    newcombe_interval,
    rate,
    rogan_gladen,
    wilson_interval,
)
from harmscope.metrics.ranking import mid_ranks

Z2 = 1.959963984540054**2


def test_auroc_four_points_with_a_tie():
    # Positive/negative pairs: 0.8>0.4, 0.8>0.1, 0.4=0.4 (one half), 0.4>0.1 -> 3.5 / 4.
    assert auroc([1, 1, 0, 0], [0.8, 0.4, 0.4, 0.1]) == pytest.approx(0.875)
    assert mid_ranks([0.8, 0.4, 0.4, 0.1]) == [4.0, 2.5, 2.5, 1.0]


def test_auroc_needs_both_classes_and_equal_lengths():
    with pytest.raises(DataError):
        auroc([1, 1], [0.2, 0.3])
    with pytest.raises(DataError):
        auroc([1, 0], [0.2])


def test_probe_auroc_is_the_metrics_one():
    from harmscope.latent.probe import auroc as probe_auroc

    assert probe_auroc is auroc


def test_average_precision_by_hand():
    # Thresholds 0.9 (R 1/2, P 1), 0.8 (R 1/2), 0.7 (R 1, P 2/3): 1/2 + 1/2 * 2/3 = 5/6.
    assert average_precision([True, False, True, False], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(
        5 / 6
    )
    assert average_precision([True, True], [0.9, 0.1]) is None


def test_rogan_gladen_by_hand_and_clamped():
    # (0.3 + 0.8 - 1) / (0.9 + 0.8 - 1) = 0.1 / 0.7.
    assert rogan_gladen(0.3, 0.9, 0.8) == pytest.approx(1 / 7)
    assert rogan_gladen(0.1, 0.9, 0.8) == 0.0  # -0.1 / 0.7 clamped
    assert rogan_gladen(1.0, 0.9, 0.8) == 1.0  # 0.8 / 0.7 clamped


def test_newcombe_worked_example():
    # Newcombe (1998), example (a): 56/70 - 48/80 = 0.2, method 10 gives 0.0524 to 0.3339.
    lo, hi = newcombe_interval(rate(56, 70), rate(48, 80))
    assert lo == pytest.approx(0.0524, abs=1e-4)
    assert hi == pytest.approx(0.3339, abs=1e-4)


def test_newcombe_needs_measured_rates():
    with pytest.raises(ValueError):
        newcombe_interval(rate(0, 0), rate(1, 2))


def test_transforms_newcombe_is_the_metrics_one():
    from harmscope.transforms.effects import newcombe_interval as effects_newcombe

    assert effects_newcombe is newcombe_interval


def test_wilson_at_k_0_and_k_n_by_hand():
    # k = 0: [0, z^2 / (n + z^2)]; k = n: [n / (n + z^2), 1].
    assert wilson_interval(0, 10) == (0.0, pytest.approx(Z2 / (10 + Z2)))
    assert wilson_interval(10, 10) == (pytest.approx(10 / (10 + Z2)), 1.0)


def test_format_rate_views():
    r = rate(1, 4)
    lo, hi = r.ci95
    expected = f"25.0% [{100 * lo:.1f}–{100 * hi:.1f}]"
    assert format_rate(r) == f"{expected} n=4"
    assert format_rate(r, show_k=True) == f"{expected} (k=1, n=4)"
    assert format_rate(rate(0, 0)) == "– n=0"
    assert format_rate(rate(0, 0), missing="not measured (n=0)") == "not measured (n=0)"


def test_binary_metrics_from_a_confusion_table():
    # tp 3, fp 1, fn 2, tn 4: precision 3/4, recall 3/5, F1 6/9, FPR 1/5, FNR 2/5, acc 7/10.
    m = BinaryMetrics.from_counts(tp=3, fp=1, fn=2, tn=4)
    assert m.n == 10 and m.accuracy == pytest.approx(0.7)
    assert m.precision == pytest.approx(0.75) and m.recall == pytest.approx(0.6)
    assert m.f1 == pytest.approx(2 / 3)
    assert m.fpr == pytest.approx(0.2) and m.fnr == pytest.approx(0.4)
    assert m.specificity == pytest.approx(0.8)


def test_binary_metrics_undefined_is_none():
    m = BinaryMetrics.from_counts(tp=0, fp=0, fn=0, tn=3)
    assert m.precision is None and m.recall is None and m.fnr is None
    assert m.f1 is None and m.fpr == 0.0 and m.accuracy == 1.0
    empty = BinaryMetrics.from_counts(tp=0, fp=0, fn=0, tn=0)
    assert empty.accuracy is None and empty.fpr is None


def test_judges_use_the_metrics_binary_metrics():
    from harmscope.judges.evaluate import BinaryMetrics as JudgeBinaryMetrics

    assert JudgeBinaryMetrics is BinaryMetrics
