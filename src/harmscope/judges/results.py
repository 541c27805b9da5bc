"""``harmscope judge eval`` as a library call: :func:`judge_evaluation` -> :class:`JudgeEvaluation`.

The model is what ``judge eval --json`` prints: the headline figures of the judge against the
labels, the confusion counts, the same figures per source model and for every baseline judge
stored with the data, and, for a judge trained on the data, which members saw it and the
held-out figures they recorded.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from harmscope.judges.base import Judge, TrainedJudge, members
from harmscope.judges.evaluate import Task, evaluate, trained_on_data
from harmscope.judges.labelled import load_dataset
from harmscope.metrics.classification import Agreement

__all__ = ["Counts", "Figures", "JudgeEvaluation", "SourceFigures", "judge_evaluation"]


class Figures(Agreement):
    """Agreement with the labels; ``None`` where a ratio is undefined."""

    unscored: int = 0
    """Items left unscored (never in a denominator)."""


class SourceFigures(Figures):
    """Figures on the responses of one source model."""

    accuracy_3way: float | None = None


class Counts(BaseModel):
    """Binary confusion counts (positive: a refusal, or a harmful answer)."""

    model_config = ConfigDict(frozen=True)

    tp: int
    fp: int
    fn: int
    tn: int


class JudgeEvaluation(Figures):
    """A judge measured against human labels, as ``judge eval --json`` prints it.

    ``trained_on_data`` and ``held_out`` are present only when a judge (or an ensemble member)
    was trained on the data: the figures are then in-sample.
    """

    judge_id: str
    task: Task
    data: str
    """The labelled data as named on the command line."""
    total: int
    """Labelled items read (scored and unscored)."""
    accuracy_3way: float | None = None
    confusion: Counts
    per_source: dict[str, SourceFigures]
    baselines: dict[str, Figures]
    """Judges whose labels came with the data, on the same items."""
    trained_on_data: list[str] | None = None
    """Ids of the members trained on the data."""
    held_out: dict[str, Any] | None = None
    """The held-out figures each such member recorded, by judge id."""

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in ("trained_on_data", "held_out"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


def held_out_figures(judge: Judge, task: Task) -> dict[str, Any]:
    """Held-out figures a trained judge (or its members) recorded for ``task``, by judge id."""
    found = {}
    for member in members(judge):
        if isinstance(member, TrainedJudge) and isinstance(member.meta.get(task), dict):
            found[member.id] = member.meta[task].get("held_out")
    return found


def judge_evaluation(judge: Judge, data: str, task: Task = "refusal") -> JudgeEvaluation:
    """Measure ``judge`` for ``task`` on labelled ``data``.

    ``data`` is a labelled JSONL file or a named set: ``xstest``, ``harmbench-val``,
    ``checkset`` (harmscope's authored check set).

    Raises:
        NotFoundError: Unknown data name or missing file.
        DataError: Malformed data, or no item carries a label for ``task``.
    """
    items = load_dataset(data)
    seen = trained_on_data(judge, data, task)
    report = evaluate(judge, items, task)
    return JudgeEvaluation(
        **report.agreement(),
        unscored=report.unscored,
        judge_id=report.judge_id,
        task=report.task,
        data=data,
        total=report.total,
        accuracy_3way=report.accuracy_3way,
        confusion=Counts(tp=report.tp, fp=report.fp, fn=report.fn, tn=report.tn),
        per_source={
            k: SourceFigures(**v.agreement(), unscored=v.unscored, accuracy_3way=v.accuracy_3way)
            for k, v in report.per_source.items()
        },
        baselines={
            k: Figures(**v.agreement(), unscored=v.unscored) for k, v in report.baselines.items()
        },
        trained_on_data=seen or None,
        held_out=held_out_figures(judge, task) if seen else None,
    )
