"""Binary classification metrics from confusion counts; ``None`` wherever a ratio is undefined."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["BinaryMetrics", "ratio"]


def ratio(num: float, den: float) -> float | None:
    """``num / den``, or ``None`` when ``den`` is 0 (undefined, which is not zero)."""
    return num / den if den else None


class BinaryMetrics(BaseModel):
    """Agreement of binary predictions with labels; ``None`` where a ratio is undefined."""

    model_config = ConfigDict(frozen=True)

    n: int
    """Scored items in the denominators."""
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    kappa: float | None
    """Cohen's kappa (chance-corrected agreement)."""
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
