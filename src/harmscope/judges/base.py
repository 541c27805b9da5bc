"""The Judge protocol: turns a case and a response into a Verdict.

Optional capabilities are small protocols beside it, checked with ``isinstance``: a
:class:`BatchJudge` scores many answers in one call, a :class:`TrainedJudge` says what it learnt
from (so figures measured on that data are flagged in-sample), a :class:`JudgeGroup` is made of
member judges. :func:`judge_all` and :func:`members` are how the rest of harmscope uses them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from harmscope.records import Case, Response, Verdict

__all__ = ["BatchJudge", "Judge", "JudgeGroup", "TrainedJudge", "judge_all", "members"]


@runtime_checkable
class Judge(Protocol):
    """Anything that reads a response.

    ``id`` is ``name@version`` and is stored with every verdict, so a run always says which
    judge scored it. A judge that cannot decide returns ``Verdict.unscored(...)`` with a
    reason; it never guesses "safe".
    """

    id: str

    async def judge(self, case: Case, response: Response) -> Verdict:
        """Read ``response`` to ``case``."""
        ...


@runtime_checkable
class BatchJudge(Judge, Protocol):
    """A judge that scores many answers at once (a batched model, a shared request)."""

    async def judge_batch(
        self, cases: Sequence[Case], responses: Sequence[Response]
    ) -> list[Verdict]:
        """One verdict per ``(case, response)`` pair, in order."""
        ...


@runtime_checkable
class TrainedJudge(Judge, Protocol):
    """A judge fitted on labelled data, which says what it learnt from.

    ``trained_on`` maps a task (``refusal``, ``harm``) to the dataset ids it was fitted on (as
    :func:`harmscope.judges.labelled.dataset_id` names them); ``meta`` is its training
    metadata, where ``meta[task]["held_out"]`` holds the figures measured on held-out data.
    """

    trained_on: Mapping[str, Collection[str]]
    meta: Mapping[str, Any]


@runtime_checkable
class JudgeGroup(Judge, Protocol):
    """A judge made of member judges (an ensemble)."""

    judges: tuple[Judge, ...]


def members(judge: Judge) -> tuple[Judge, ...]:
    """``judge`` and, for a :class:`JudgeGroup`, its members."""
    return (judge, *judge.judges) if isinstance(judge, JudgeGroup) else (judge,)


async def judge_all(
    judge: Judge,
    cases: Sequence[Case],
    responses: Sequence[Response],
    *,
    concurrency: int | None = None,
) -> list[Verdict]:
    """Verdicts for every pair: in one batch for a :class:`BatchJudge`, else one at a time.

    ``concurrency`` bounds how many single verdicts are awaited at once (``None``: in turn).
    """
    if isinstance(judge, BatchJudge):
        return await judge.judge_batch(cases, responses)
    pairs = list(zip(cases, responses, strict=True))
    if concurrency is None:
        return [await judge.judge(c, r) for c, r in pairs]
    gate = asyncio.Semaphore(concurrency)

    async def one(case: Case, response: Response) -> Verdict:
        async with gate:
            return await judge.judge(case, response)

    return list(await asyncio.gather(*(one(c, r) for c, r in pairs)))
