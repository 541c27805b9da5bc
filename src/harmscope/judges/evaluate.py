"""Meta-evaluation: how well a judge agrees with human labels.

``evaluate(judge, items, task)`` runs the judge on labelled responses and reports accuracy,
precision, recall, F1 and Cohen's kappa of the binary decision (positive class: *refusal* for
``task="refusal"``, *harmful* for ``task="harm"``), the 3-way accuracy where the labels are
3-way, a per-source-model breakdown, and the same figures for baseline judges whose labels are
stored with the data. Unscored verdicts are counted but never enter a denominator.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from harmscope.errors import DataError
from harmscope.judges.base import Judge, TrainedJudge, judge_all, members
from harmscope.judges.labelled import LabelledItem, dataset_id
from harmscope.metrics.classification import BinaryMetrics, binary_metrics, cohen_kappa, ratio
from harmscope.records import Case, Response, Verdict

__all__ = [
    "BaselineReport",
    "BinaryMetrics",
    "EvalReport",
    "Task",
    "binary_metrics",
    "cohen_kappa",
    "evaluate",
    "judge_items",
    "report_from_verdicts",
    "trained_on_data",
]

Task = Literal["refusal", "harm"]


class SourceReport(BinaryMetrics):
    """Figures for the responses of one source model."""

    unscored: int
    accuracy_3way: float | None = None


class BaselineReport(BinaryMetrics):
    """A judge whose labels came with the data, measured on the same items."""

    unscored: int = 0
    """Items whose stored label could not be read (e.g. a malformed rating)."""


class EvalReport(BinaryMetrics):
    """A judge measured against labelled responses."""

    judge_id: str
    task: Task
    total: int
    """Labelled items read (scored and unscored)."""
    unscored: int
    """Items the judge left unscored (excluded from every ratio)."""
    accuracy_3way: float | None = None
    """Exact agreement on the 3-way refusal label, over items labelled 3-way."""
    n_3way: int = 0
    confusion_3way: dict[str, dict[str, int]] = {}
    """``true label -> predicted label -> count``."""
    per_source: dict[str, SourceReport] = {}
    baselines: dict[str, BaselineReport] = {}
    """Judges whose labels came with the data, on the same items."""


def _truth(item: LabelledItem, task: Task) -> bool | None:
    return item.refusal if task == "refusal" else item.harmful


def _pred(verdict: Verdict, task: Task) -> bool | None:
    if not verdict.scored:
        return None
    if task == "refusal":
        return None if verdict.refusal is None else verdict.refusal != "full_compliance"
    return verdict.harmful


def _three_way(items: Sequence[LabelledItem], verdicts: Sequence[Verdict]) -> tuple[int, int]:
    pairs = [
        (i.refusal_label, v.refusal)
        for i, v in zip(items, verdicts, strict=True)
        if i.refusal_label is not None and v.scored and v.refusal is not None
    ]
    return sum(t == p for t, p in pairs), len(pairs)


def report_from_verdicts(
    items: Sequence[LabelledItem], verdicts: Sequence[Verdict], task: Task, judge_id: str
) -> EvalReport:
    """The :class:`EvalReport` of ``verdicts`` (one per item, same order) against labels.

    Raises:
        DataError: No item carries a label for ``task``.
    """
    if len(items) != len(verdicts):
        raise ValueError("one verdict per item is needed")
    kept = [(i, v) for i, v in zip(items, verdicts, strict=True) if _truth(i, task) is not None]
    if not kept:
        raise DataError(f"no item carries a {task!r} label")
    scored = [(i, v) for i, v in kept if _pred(v, task) is not None]
    core = binary_metrics(
        [bool(_truth(i, task)) for i, _ in scored], [bool(_pred(v, task)) for _, v in scored]
    )
    confusion: dict[str, dict[str, int]] = defaultdict(dict)
    three_way = task == "refusal"
    for i, v in scored:
        if three_way and i.refusal_label is not None and v.refusal is not None:
            row = confusion[i.refusal_label]
            row[v.refusal] = row.get(v.refusal, 0) + 1
    hits, n3 = _three_way([i for i, _ in kept], [v for _, v in kept]) if three_way else (0, 0)
    by_source: dict[str, list[tuple[LabelledItem, Verdict]]] = defaultdict(list)
    for i, v in kept:
        by_source[i.source].append((i, v))
    per_source = {}
    for source, pairs in sorted(by_source.items()):
        ok = [(i, v) for i, v in pairs if _pred(v, task) is not None]
        m = binary_metrics(
            [bool(_truth(i, task)) for i, _ in ok], [bool(_pred(v, task)) for _, v in ok]
        )
        h, n = _three_way([i for i, _ in pairs], [v for _, v in pairs]) if three_way else (0, 0)
        per_source[source] = SourceReport(
            **m.model_dump(), unscored=len(pairs) - len(ok), accuracy_3way=ratio(h, n)
        )
    return EvalReport(
        **core.model_dump(),
        judge_id=judge_id,
        task=task,
        total=len(kept),
        unscored=len(kept) - len(scored),
        accuracy_3way=ratio(hits, n3),
        n_3way=n3,
        confusion_3way=dict(confusion),
        per_source=per_source,
        baselines=_baselines([i for i, _ in kept], task),
    )


def _baselines(items: Sequence[LabelledItem], task: Task) -> dict[str, BaselineReport]:
    names = sorted({name for i in items for name in i.baselines})
    out = {}
    for name in names:
        stored = [(bool(_truth(i, task)), i.baselines[name]) for i in items if name in i.baselines]
        rows = [(t, p) for t, p in stored if p is not None]
        m = binary_metrics([t for t, _ in rows], [p for _, p in rows])
        out[name] = BaselineReport(**m.model_dump(), unscored=len(stored) - len(rows))
    return out


def _case(item: LabelledItem) -> Case:
    return Case.from_prompt(
        item.prompt or " ",
        id=item.id,
        category=item.category,
        expected="comply" if item.expected == "comply" else "refuse",
        source=item.source,
    )


async def judge_items(
    judge: Judge, items: Sequence[LabelledItem], *, concurrency: int = 4
) -> list[Verdict]:
    """Run ``judge`` on every item (through ``judge_batch`` when the judge has one)."""
    cases = [_case(i) for i in items]
    responses = [Response(case_id=i.id, target_id=i.source, text=i.response) for i in items]
    return await judge_all(judge, cases, responses, concurrency=concurrency)


def trained_on_data(judge: Judge, data: str | Path, task: Task) -> list[str]:
    """Ids of ``judge`` (or of its ensemble members) whose ``task`` training data include ``data``.

    A trained judge declares what it learnt from in a ``trained_on`` mapping (task -> dataset
    ids, as :func:`~harmscope.judges.labelled.dataset_id` names them). Figures measured on such
    data are in-sample and flatter the judge.
    """
    wanted = dataset_id(data)
    found = []
    for member in members(judge):
        if isinstance(member, TrainedJudge) and wanted in member.trained_on.get(task, ()):
            found.append(member.id)
    return found


def evaluate(
    judge: Judge, items: Sequence[LabelledItem], task: Task = "refusal", *, concurrency: int = 4
) -> EvalReport:
    """Measure ``judge`` against the labels of ``items`` for ``task``.

    Raises:
        DataError: No item carries a label for ``task``.
    """
    labelled = [i for i in items if _truth(i, task) is not None]
    if not labelled:
        raise DataError(f"no item carries a {task!r} label")
    verdicts = asyncio.run(judge_items(judge, labelled, concurrency=concurrency))
    return report_from_verdicts(labelled, verdicts, task, judge.id)
