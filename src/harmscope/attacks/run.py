"""An adaptive attack over many cases, as ``harmscope attack`` runs it, callable from Python.

:func:`run_attack` searches each case with :func:`~harmscope.attacks.adaptive.adaptive_search`
under one shared budget and one shared :class:`~harmscope.attacks.adaptive.SuccessStats`,
appends one :class:`AttackRow` per case to a JSONL file (and/or hands it to a callback) as
each case ends, and returns an :class:`AttackResult`: the counts, the attack success rate and
the transforms' ranking. With ``resume`` it first reads the file: cases it already holds a
finished search for are skipped, and the statistics restart from the attempts it records.

``AttackResult.model_dump(mode="json")`` is what ``harmscope attack --json`` prints, and each
``AttackRow.model_dump(mode="json")`` is one line of its ``--out`` file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harmscope._sync import synchronous
from harmscope.attacks.adaptive import (
    SearchResult,
    StopReason,
    SuccessStats,
    adaptive_search,
    search_plan,
    stats_from_paths,
)
from harmscope.config import TargetOptions
from harmscope.datasets import load_json_line, read_lines
from harmscope.errors import DataError
from harmscope.judges.base import Judge
from harmscope.metrics import Rate, rate
from harmscope.records import Case, GenerationParams, RefusalLabel
from harmscope.runner.budget import Budget
from harmscope.targets import Target, create_target
from harmscope.transforms.base import Transform

__all__ = [
    "AttackPlan",
    "AttackResult",
    "AttackRow",
    "AttackStart",
    "AttackStep",
    "RankedTransform",
    "read_paths",
    "run_attack",
    "run_attack_sync",
    "should_refuse_cases",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttackStep(_Model):
    """One request of a case's search, as its row's ``path`` lists it."""

    transform: str
    """The transform chain id; empty for the plain case."""
    case_id: str
    """The (transformed) case sent."""
    prompt: str
    """The last message sent."""
    response: str | None
    """The target's text (``None`` on a target error)."""
    error: str | None
    """The target error, if any."""
    refusal: RefusalLabel | None
    """The judge's refusal reading."""
    scored: bool
    """Whether the judge produced a label."""
    success: bool
    """Whether the verdict counts as success."""
    tokens: int
    """Tokens charged to the budget."""


class AttackRow(_Model):
    """One searched case: the outcome and the whole path (one line of the JSONL)."""

    case_id: str
    stop_reason: StopReason
    winner: str | None
    """The chain that succeeded (``""`` for the plain case), if any."""
    requests: int
    tokens: int
    path: list[AttackStep]

    @classmethod
    def from_search(cls, result: SearchResult) -> AttackRow:
        """The row of one search."""
        return cls(
            case_id=result.case_id,
            stop_reason=result.stop_reason,
            winner=result.winner,
            requests=result.requests,
            tokens=result.tokens,
            path=[
                AttackStep(
                    transform=a.transform,
                    case_id=a.case.id,
                    prompt=a.case.messages[-1].content,
                    response=a.response,
                    error=a.error,
                    refusal=a.verdict.refusal,
                    scored=a.verdict.scored,
                    success=a.success,
                    tokens=a.tokens,
                )
                for a in result.path
            ],
        )

    def json_line(self) -> str:
        """The row as one JSON line (no newline)."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False)


class RankedTransform(_Model):
    """A transform's attempts and successes so far."""

    transform: str
    attempts: int
    successes: int


class AttackPlan(_Model):
    """The most the search could cost: every case refused under every candidate."""

    requests: int
    max_total_tokens: int


@dataclass(frozen=True, slots=True)
class AttackStart:
    """What a search is about to do, before its first request."""

    to_search: int
    """Cases to search now."""
    already_searched: int
    """Cases skipped because ``out`` already holds a finished search for them."""
    plan: AttackPlan


class AttackResult(_Model):
    """The outcome of an attack, as ``harmscope attack --json`` prints it."""

    target: str
    judge: str
    cases: int
    """Cases asked for (resumed ones included)."""
    searched: int
    """Cases with a row: searched now or earlier."""
    plain_compliance: int
    """Cases answered without a transform."""
    refused_plain: int
    """Cases refused plain (and searched further)."""
    broken: int
    """Refused cases a transform broke."""
    attack_success_rate: Rate
    """Broken of the refused cases whose search ran to the end."""
    stopped_by_budget: int
    """Cases the budget stopped or never let start."""
    requests: int
    tokens: int
    resumed: int | None
    """Cases taken from an earlier search (``None`` unless resuming)."""
    ranking: list[RankedTransform]
    plan: AttackPlan
    paths: str | None
    """The JSONL the rows were appended to."""
    rows: list[AttackRow] = Field(default_factory=list, exclude=True, repr=False)
    """The rows counted (earlier finished ones, then this run's); not part of the dump."""

    @classmethod
    def summarize(cls, rows: Sequence[AttackRow], cases: int, **rest: Any) -> AttackResult:
        """Counts and the attack success rate over the searched cases' rows."""
        refused = [r for r in rows if r.stop_reason != "plain_compliance" and r.path]
        broken = sum(r.stop_reason == "success" for r in refused)
        finished = sum(r.stop_reason in ("success", "exhausted") for r in refused)
        return cls(
            cases=cases,
            searched=len(rows),
            plain_compliance=sum(r.stop_reason == "plain_compliance" for r in rows),
            refused_plain=len(refused),
            broken=broken,
            attack_success_rate=rate(broken, finished),
            stopped_by_budget=sum(r.stop_reason == "budget" for r in rows) + cases - len(rows),
            requests=sum(r.requests for r in rows),
            tokens=sum(r.tokens for r in rows),
            rows=list(rows),
            **rest,
        )


def read_paths(path: Path) -> dict[str, dict[str, Any]]:
    """The rows of an earlier search's JSONL, by case id (a later row replaces an earlier one).

    Raises:
        DataError: A line is not a JSON object with a ``case_id``.
    """
    rows: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return rows
    for n, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        row = load_json_line(line, f"{path}:{n}")
        if not isinstance(row.get("case_id"), str):
            raise DataError(f"{path}:{n}: not a search path (no case_id)")
        rows[row["case_id"]] = row
    return rows


def _finished(path: Path, earlier: dict[str, dict[str, Any]]) -> dict[str, AttackRow]:
    """The earlier rows whose search ended other than by the budget, as rows."""
    done: dict[str, AttackRow] = {}
    for cid, raw in earlier.items():
        try:
            row = AttackRow.model_validate(raw)
        except ValidationError as exc:
            why = exc.errors()[0]["msg"]
            raise DataError(f"{path}: case {cid}: not a search path ({why})") from exc
        if row.stop_reason != "budget":
            done[cid] = row
    return done


def should_refuse_cases(
    suite: str, *, limit: int | None = None, seed: int = 0, data_dir: str | Path | None = None
) -> list[Case]:
    """The suite's should-refuse cases, or a stratified sample of ``limit`` of them.

    Raises:
        DataError: The suite has no should-refuse case.
    """
    from harmscope.suites import load_suite

    loaded = load_suite(suite, data_dir=data_dir)
    refuse = loaded.model_copy(
        update={"cases": tuple(c for c in loaded.cases if c.expected == "refuse")}
    )
    if limit is not None:
        refuse = refuse.sample(limit, seed=seed)
    if not refuse.cases:
        raise DataError(f"{suite}: no should-refuse cases to attack")
    return list(refuse.cases)


async def run_attack(
    target: Target | str,
    cases: Sequence[Case],
    transforms: Sequence[Transform],
    *,
    judge: Judge,
    budget: Budget | None = None,
    params: GenerationParams | None = None,
    max_depth: int = 1,
    out: Path | None = None,
    resume: bool = False,
    on_start: Callable[[AttackStart], None] | None = None,
    on_row: Callable[[AttackRow], None] | None = None,
    target_name: str | None = None,
    options: TargetOptions | None = None,
) -> AttackResult:
    """Search transforms until ``target`` complies, for each of ``cases`` it refuses.

    Args:
        target: The system under test (not closed here), or its ``provider/model`` name: it
            is then built with ``options`` and closed at the end.
        cases: The cases to attack (usually :func:`should_refuse_cases`).
        transforms: The transforms to try (and, with ``max_depth`` 2, their ordered pairs).
        judge: Decides success (a full compliance).
        budget: Shared by every case (default: no limit); the search stops when spent.
        params: Generation parameters.
        max_depth: 1 for single transforms, 2 to add ordered pairs.
        out: JSONL each case's :class:`AttackRow` is appended to as the case ends.
        resume: Read ``out`` first: skip its finished cases, restart from its statistics.
        on_start: Called with the plan before the first request.
        on_row: Called with each case's row as the case ends.
        target_name: The result's ``target`` (default: the name given, or ``target.id``).
        options: How a target given by name is built (its ``base_url``, timeout, retries).

    Returns:
        The counts over every asked-for case's row (resumed ones included).

    Raises:
        DataError: ``resume`` and ``out`` holds a line that is not a search path.
        OSError: ``out`` cannot be opened.
    """
    if resume and out is None:
        raise ValueError("resume needs the out file to resume from")
    async with AsyncExitStack() as stack:
        if isinstance(target, str):
            target_name = target_name or target
            target = create_target(target, options)
            stack.push_async_callback(target.aclose)
        budget = budget or Budget()
        params = params or GenerationParams()
        target_name = target_name or target.id
        earlier = read_paths(out) if resume and out is not None else {}
        done = _finished(out, earlier) if out is not None else {}
        stats = stats_from_paths(earlier.values())
        todo = [c for c in cases if c.id not in done]
        estimate = search_plan(todo, transforms, max_depth=max_depth, params=params)
        plan = AttackPlan(requests=estimate.requests, max_total_tokens=estimate.max_total_tokens)
        if on_start is not None:
            on_start(AttackStart(len(todo), len(done), plan))
        rows = await _search(
            todo, target, judge, transforms, budget=budget, params=params, stats=stats,
            max_depth=max_depth, out=out, on_row=on_row,
        )  # fmt: skip
        ids = {c.id for c in cases}
        return AttackResult.summarize(
            [row for cid, row in done.items() if cid in ids] + rows,
            len(cases),
            target=target_name,
            judge=judge.id,
            resumed=len(done) if resume else None,
            ranking=[
                RankedTransform(transform=t, attempts=n, successes=stats.successes.get(t, 0))
                for t, _, n in stats.ranking()
            ],
            plan=plan,
            paths=str(out) if out is not None else None,
        )


async def _search(
    todo: Iterable[Case],
    target: Target,
    judge: Judge,
    transforms: Sequence[Transform],
    *,
    budget: Budget,
    params: GenerationParams,
    stats: SuccessStats,
    max_depth: int,
    out: Path | None,
    on_row: Callable[[AttackRow], None] | None,
) -> list[AttackRow]:
    """Search each case in turn until the budget is spent; each row is written as it ends."""
    rows: list[AttackRow] = []
    with ExitStack() as stack:
        sink = stack.enter_context(out.open("a", encoding="utf-8")) if out is not None else None
        for case in todo:
            if budget.exhausted:
                break
            result = await adaptive_search(
                case, target, judge, transforms,
                budget=budget, params=params, stats=stats, max_depth=max_depth,
            )  # fmt: skip
            row = AttackRow.from_search(result)
            rows.append(row)
            if sink is not None:
                sink.write(row.json_line() + "\n")
                sink.flush()
            if on_row is not None:
                on_row(row)
    return rows


run_attack_sync = synchronous(run_attack)
