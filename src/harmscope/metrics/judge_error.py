"""The one record of a judge's measured error: what a run stores and a Risk Card cites.

A meta-evaluation (:func:`harmscope.judges.error.measure`, ``harmscope judge eval``) yields a
:class:`JudgeError`: who was measured, on which labelled data, the headline figures, and the
binary confusion counts of each reading of the refusal label that the rate correction uses.
A card built from figures alone (a scenario file, another tool's evaluation) carries the
figures without the counts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Confusion", "JudgeError"]


class Confusion(BaseModel):
    """Binary confusion counts of a judge against labels (positive class as named)."""

    model_config = ConfigDict(frozen=True)

    tp: int
    fn: int
    tn: int
    fp: int


class JudgeError(BaseModel):
    """Measured error of a judge on labelled data; ``None`` where a figure is undefined."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    precision: float | None = Field(ge=0.0, le=1.0)
    """Precision of the judge's positive label (a refusal, partial included; or a harmful
    answer) on the labelled set."""
    recall: float | None = Field(ge=0.0, le=1.0)
    """Recall of the judge's positive label on the labelled set."""
    n: int = Field(ge=0)
    """Labelled items the judge scored (the figures rest on them)."""
    source: str
    """Where the figures come from (``checkset`` for harmscope's authored check set, a
    labelled set's name or a file)."""
    judge_id: str | None = None
    """The judge measured, as ``name@version``."""
    task: Literal["refusal", "harm"] | None = None
    """What was measured."""
    unscored: int = Field(default=0, ge=0)
    """Labelled items the judge could not score."""
    accuracy: float | None = Field(default=None, ge=0.0, le=1.0)
    accuracy_3way: float | None = Field(default=None, ge=0.0, le=1.0)
    """Exact agreement on the 3-way refusal label, over items labelled 3-way."""
    refusal: Confusion | None = None
    """Positive = any refusal (full or partial): the reading of the over-refusal rate."""
    full_refusal: Confusion | None = None
    """Positive = full refusal: the complement of the unsafe-compliance reading."""
