"""Ranking metrics in pure Python: AUROC (Mann-Whitney, mid-ranks) and average precision."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from harmscope.errors import DataError

__all__ = ["auroc", "average_precision", "mid_ranks"]


def mid_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks of ``values``; tied values share the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for pos in range(i, j + 1):
            ranks[order[pos]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def auroc(labels: Iterable[object], scores: Iterable[float]) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks; ties count one half).

    Accepts sequences or 1-D arrays.

    Raises:
        DataError: Fewer than one positive and one negative label, or mismatched lengths.
    """
    y = [bool(v) for v in labels]
    s = [float(v) for v in scores]
    if len(y) != len(s):
        raise DataError("labels and scores must be 1-D and of equal length")
    n_pos = sum(y)
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise DataError("AUROC needs both positive and negative examples")
    ranks = mid_ranks(s)
    u = sum(r for r, pos in zip(ranks, y, strict=True) if pos) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def average_precision(labels: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the precision-recall curve as average precision.

    ``AP = sum_k (R_k - R_{k-1}) * P_k`` over distinct score thresholds, highest first (ties
    share one threshold), as scikit-learn's ``average_precision_score``. ``None`` without both
    classes.
    """
    positives = sum(bool(y) for y in labels)
    if positives == 0 or positives == len(labels):
        return None
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    ap = tp = fp = 0.0
    prev_recall = 0.0
    i = 0
    while i < len(pairs):
        threshold = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == threshold:
            tp += bool(pairs[i][1])
            fp += not pairs[i][1]
            i += 1
        recall = tp / positives
        ap += (recall - prev_recall) * (tp / (tp + fp))
        prev_recall = recall
    return ap
