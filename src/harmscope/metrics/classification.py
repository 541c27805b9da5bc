"""Binary classification metrics from confusion counts; ``None`` wherever a ratio is undefined."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field

__all__ = ["Agreement", "BinaryMetrics", "binary_metrics", "cohen_kappa", "ratio"]


def ratio(num: float, den: float) -> float | None:
    """``num / den``, or ``None`` when ``den`` is 0 (undefined, which is not zero)."""
    return num / den if den else None


class Agreement(BaseModel):
    """The headline figures of binary predictions against labels; ``None`` where undefined."""

    model_config = ConfigDict(frozen=True)

    n: int
    """Scored items in the denominators."""
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    kappa: float | None
    """Cohen's kappa (chance-corrected agreement)."""

    def agreement(self) -> dict[str, Any]:
        """Just the headline figures, as keyword arguments for another record."""
        return self.model_dump(include=set(Agreement.model_fields))


class BinaryMetrics(Agreement):
    """Agreement of binary predictions with labels, with the confusion counts."""

    tp: int
    fp: int
    fn: int
    tn: int

    @classmethod
    def from_counts(
        cls, *, tp: int, fp: int, fn: int, tn: int, kappa: float | None = None
    ) -> BinaryMetrics:
        """The metrics of a confusion table (positive class first).

        Args:
            tp: True positives.
            fp: False positives.
            fn: False negatives.
            tn: True negatives.
            kappa: Cohen's kappa when the caller computed it from the labelings.
        """
        n = tp + fp + fn + tn
        return cls(
            n=n,
            accuracy=ratio(tp + tn, n),
            precision=ratio(tp, tp + fp),
            recall=ratio(tp, tp + fn),
            f1=ratio(2 * tp, 2 * tp + fp + fn),
            kappa=kappa,
            tp=tp,
            fp=fp,
            fn=fn,
            tn=tn,
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fpr(self) -> float | None:
        """False-positive rate ``fp / (fp + tn)``; ``None`` without negatives."""
        return ratio(self.fp, self.fp + self.tn)

    @property
    def fnr(self) -> float | None:
        """False-negative rate ``fn / (fn + tp)``; ``None`` without positives."""
        return ratio(self.fn, self.fn + self.tp)

    @property
    def specificity(self) -> float | None:
        """True-negative rate ``tn / (tn + fp)``; ``None`` without negatives."""
        return ratio(self.tn, self.tn + self.fp)


def cohen_kappa(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two labelings of the same items (``None`` if chance agreement is 1)."""
    if len(truth) != len(pred):
        raise ValueError("truth and pred differ in length")
    n = len(truth)
    if n == 0:
        return None
    observed = sum(t == p for t, p in zip(truth, pred, strict=True)) / n
    ct, cp = Counter(truth), Counter(pred)
    expected = sum(ct[k] * cp[k] for k in ct) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


def binary_metrics(truth: Sequence[bool], pred: Sequence[bool]) -> BinaryMetrics:
    """Accuracy, precision, recall, F1 and kappa of ``pred`` for the positive class ``True``."""
    if len(truth) != len(pred):
        raise ValueError("truth and pred differ in length")
    pairs = Counter(zip(truth, pred, strict=True))
    return BinaryMetrics.from_counts(
        tp=pairs[(True, True)],
        fp=pairs[(False, True)],
        fn=pairs[(True, False)],
        tn=pairs[(False, False)],
        kappa=cohen_kappa(truth, pred),
    )
