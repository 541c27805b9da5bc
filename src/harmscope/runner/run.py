"""A run: suite × target × judges, with one concurrency limit, a cache and resume.

The runner is the only place that decides what runs when. Each case flows
cache-or-target → judges → store, and is committed as a unit the moment it is judged, so a
run killed at any instant resumes where it stopped. A run is leased to one worker at a time,
so two resumes of one run never both send its cases.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from harmscope._sync import synchronous
from harmscope.config import RunConfig
from harmscope.errors import NotFoundError, RunBusyError
from harmscope.judges.base import Judge
from harmscope.judges.error import CorrectedMetrics, correct_metrics
from harmscope.metrics import CaseResult, Metrics, compute_metrics
from harmscope.metrics.judge_error import JudgeError
from harmscope.records import SCHEMA_VERSION, Case, Response, Verdict
from harmscope.runner.budget import Budget, Estimate, estimate
from harmscope.runner.conversation import (
    conversation_judge_id,
    is_multiturn,
    judge_turns,
    play,
)
from harmscope.store.sqlite import RunStatus, SQLiteStore, cache_key, lease_owner
from harmscope.targets.base import DEFAULT_CONCURRENCY, Target, cache_tag
from harmscope.transforms.effects import TransformMetrics, per_transform

__all__ = ["Progress", "RunSummary", "run", "run_async", "stored_judge_error", "summarize"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Progress:
    """Sent to ``on_progress`` after every stored case."""

    done: int
    """Cases finished (including those finished before a resume)."""
    total: int
    """Cases in the run."""
    errors: int
    """Target errors so far in this session."""
    cached: int
    """Responses served from the cache in this session."""


class RunSummary(BaseModel):
    """What a scan reports: counts and metrics (the ``--json`` output, stable)."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    """Version of this record's layout (:data:`harmscope.records.SCHEMA_VERSION`)."""
    run_id: str
    """The run's id in the store."""
    status: RunStatus
    """``complete`` when every case has a stored result."""
    target: str
    """Target id."""
    suite: str
    """``name@version``."""
    judges: tuple[str, ...]
    """Judge ids; the first drives the rates."""
    db: str
    """The store file."""
    cases: int
    """Cases in the run."""
    completed: int
    """Cases with a stored response (ok or errored)."""
    errors: int
    """Cases whose target call failed."""
    unscored: int
    """Cases answered but not scored by the primary judge."""
    metrics: Metrics
    """Rates per run and per category."""
    stop_reason: str | None = None
    """Why a run stopped before completing (e.g. a budget cap); ``None`` otherwise."""
    judge_error: JudgeError | None = None
    """The primary judge's refusal error measured on labelled data, if it was measured."""
    corrected: CorrectedMetrics | None = None
    """The rates corrected for ``judge_error`` (Rogan-Gladen, bootstrap intervals)."""
    conversation: Metrics | None = None
    """In a live multi-turn run, the multi-turn cases' rates scored on whole conversations
    (the least refusing turn); ``metrics`` scores their final answers."""
    per_transform: dict[str, TransformMetrics] | None = None
    """When cases carry transforms: per transform (``plain`` first) both rates and their
    change against plain with a Newcombe 95 % interval; ``None`` in a run without transforms."""


def summarize(store: SQLiteStore, run_id: str, *, stop_reason: str | None = None) -> RunSummary:
    """Summarize a stored run (complete or not) from the store alone."""
    info = store.run(run_id)
    results = store.results(info.run_id)
    primary = info.judges[0] if info.judges else None
    metrics = compute_metrics(results, judge_id=primary)
    judge_error = stored_judge_error(store, info.run_id, primary)
    corrected = None
    if judge_error is not None:
        try:
            corrected = correct_metrics(metrics, judge_error)
        except ValueError as exc:  # labelled data without both classes: report it uncorrected
            log.warning("rates not corrected for judge error: %s", exc)
    conversation = None
    if info.config.multiturn == "live" and primary is not None:
        multi = [r for r in results if is_multiturn(r.case)]
        if multi:
            conversation = compute_metrics(multi, judge_id=conversation_judge_id(primary))
    return RunSummary(
        run_id=info.run_id,
        status=info.status,
        target=info.target_id,
        suite=info.suite_ref,
        judges=info.judges,
        db=store.path,
        cases=len(results),
        completed=sum(r.response is not None for r in results),
        errors=metrics.errors,
        unscored=metrics.unscored,
        metrics=metrics,
        stop_reason=stop_reason,
        judge_error=judge_error,
        corrected=corrected,
        conversation=conversation,
        per_transform=per_transform(results, judge_id=primary) or None,
    )


def stored_judge_error(store: SQLiteStore, run_id: str, judge_id: str | None) -> JudgeError | None:
    """The refusal error of ``judge_id`` stored with ``run_id``, if any."""
    raw = store.judge_errors(run_id).get((judge_id or "", "refusal"))
    return None if raw is None else JudgeError.model_validate(raw)


def _is_done(result: CaseResult, judge_ids: Sequence[str], retry_errors: bool) -> bool:
    if result.response is None:
        return False
    if not result.response.ok:
        return not retry_errors
    have = {v.judge_id for v in result.verdicts}
    return all(j in have for j in judge_ids)


async def _judge_all(judges: Sequence[Judge], case: Case, response: Response) -> list[Verdict]:
    if not response.ok:
        return []
    verdicts = []
    for judge in judges:
        try:
            verdicts.append(await judge.judge(case, response))
        except Exception as exc:  # a judge bug must not lose the response
            log.warning("judge %s failed on %s: %s", judge.id, case.id, exc)
            verdicts.append(Verdict.unscored(case.id, judge.id, f"judge error: {exc}"))
    return verdicts


async def _judge_conversation(
    judges: Sequence[Judge], case: Case, response: Response
) -> list[Verdict]:
    verdicts = []
    for judge in judges:
        try:
            verdicts.append(await judge_turns(judge, case, response))
        except Exception as exc:  # a judge bug must not lose the response
            log.warning("judge %s failed on the turns of %s: %s", judge.id, case.id, exc)
            cid = conversation_judge_id(judge.id)
            verdicts.append(Verdict.unscored(case.id, cid, f"judge error: {exc}"))
    return verdicts


async def run_async(
    config: RunConfig,
    *,
    store: SQLiteStore,
    target: Target,
    judges: Sequence[Judge],
    cases: Sequence[Case] | None = None,
    suite_ref: str = "",
    resume: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_estimate: Callable[[Estimate], None] | None = None,
    judge_error: JudgeError | None = None,
    use_cache: bool = True,
) -> RunSummary:
    """Run (or resume) a scan and return its summary.

    The run is leased to this call while it works (see :mod:`harmscope.store.sqlite`); the
    lease is released when it completes or stops.

    Args:
        config: The run's configuration (stored with a new run).
        store: Where results go.
        target: The system under test.
        judges: Judges scoring every answer; the first drives the headline rates.
        cases: The cases of a new run (ignored when resuming).
        suite_ref: ``name@version`` of the suite the cases come from.
        resume: Id of a stored run to continue; errored cases are tried again.
        on_progress: Called after each stored case.
        on_estimate: Called once, before any request, with the cost estimate of the cases
            still to run (an upper bound: cached answers cost nothing).
        judge_error: The first judge's measured refusal error, stored with the run before any
            request so the rates can be corrected (see :mod:`harmscope.judges.error`).
        use_cache: ``False``: answers are neither read from nor written to the response cache.

    Raises:
        StoreError: The store is not writable.
        RunBusyError: Another live process is working on ``resume``, or took the run over.
        ValueError: ``judge_error`` does not name the judge and task it measured.
    """
    judge_ids = [j.id for j in judges]
    config = with_concurrency(config)
    if judge_error is not None and (judge_error.judge_id is None or judge_error.task is None):
        raise ValueError("a run's judge error must name the judge and the task it measured")
    store.check_writable()
    owner = lease_owner()
    if resume is None:
        if not cases:
            raise ValueError("a new run needs cases")
        run_id = store.create_run(
            config=config,
            suite_ref=suite_ref,
            target_id=target.id,
            judges=judge_ids,
            cases=cases,
            owner=owner,
        )
    else:
        run_id = store.run(resume).run_id
        store.acquire_lease(run_id, owner)
    try:
        if resume is not None:
            store.set_judges(run_id, judge_ids)
            store.set_status(run_id, "running")
        if judge_error is not None:
            store.set_judge_error(
                run_id, str(judge_error.judge_id), str(judge_error.task), judge_error.model_dump()
            )
        work = _Work(config, store, target, judges, run_id, use_cache, on_progress)
        return await work.run(owner, retry_errors=resume is not None, on_estimate=on_estimate)
    finally:
        store.release_lease(run_id, owner)


class _Work:
    """One session of a leased run: the cases still to do, sent, judged and stored."""

    def __init__(
        self,
        config: RunConfig,
        store: SQLiteStore,
        target: Target,
        judges: Sequence[Judge],
        run_id: str,
        use_cache: bool,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.config, self.store, self.target, self.judges = config, store, target, judges
        self.run_id, self.use_cache, self.on_progress = run_id, use_cache, on_progress
        self.stats = {"done": 0, "errors": 0, "cached": 0, "skipped": 0}
        self.total = 0
        self.sem = asyncio.Semaphore(config.concurrency or 1)
        self.budget = _budget(config)
        # what tells this system under test from another with the same id (an endpoint URL,
        # a latent probe whose signals the answers carry); never a secret
        self.tag = cache_tag(target)

    async def run(
        self, owner: str, *, retry_errors: bool, on_estimate: Callable[[Estimate], None] | None
    ) -> RunSummary:
        store, run_id, config = self.store, self.run_id, self.config
        judge_ids = [j.id for j in self.judges]
        results = store.results(run_id)
        todo = [r.case for r in results if not _is_done(r, judge_ids, retry_errors)]
        self.total = len(results)
        self.stats["done"] = len(results) - len(todo)
        if on_estimate is not None:
            on_estimate(estimate(todo, config.params, live=config.multiturn == "live"))
        tasks = [asyncio.create_task(self.one(c)) for c in todo]
        lost: list[bool] = []
        beat = asyncio.create_task(_heartbeat(store, run_id, owner, tasks, lost))
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if lost:
                raise RunBusyError(
                    f"run {run_id}: another worker took the run over (this worker's lease went "
                    "stale); this worker stopped"
                ) from None
            store.set_status(run_id, "stopped")
            raise
        finally:
            beat.cancel()
        if self.stats["skipped"]:
            store.set_status(run_id, "stopped")
            reason = (
                f"budget reached ({self.budget!r}); {self.stats['skipped']} cases left: "
                f"harmscope scan --db {store.path} --resume {run_id}"
            )
            return summarize(store, run_id, stop_reason=reason)
        store.set_status(run_id, "complete")
        return summarize(store, run_id)

    async def one(self, case: Case) -> None:
        stats, params = self.stats, self.config.params
        live = self.config.multiturn == "live" and is_multiturn(case)
        key = cache_key(self.target.id, case, params, system=self.tag + (":live" if live else ""))
        response = self.store.cached(key) if self.use_cache else None
        if response is not None:
            response = response.model_copy(update={"case_id": case.id})
            stats["cached"] += 1
        else:
            response = await self._ask(case, live)
            if response is None:
                stats["skipped"] += 1  # left for a resume
                return
        if not response.ok:
            stats["errors"] += 1
        verdicts = await _judge_all(self.judges, case, response)
        if live and response.ok:
            verdicts += await _judge_conversation(self.judges, case, response)
        self.store.save_result(self.run_id, response, verdicts, key=key, cache=self.use_cache)
        stats["done"] += 1
        if self.on_progress is not None:
            self.on_progress(Progress(stats["done"], self.total, stats["errors"], stats["cached"]))

    async def _ask(self, case: Case, live: bool) -> Response | None:
        """The target's answer, or ``None`` when the budget does not allow the request."""
        params, budget = self.config.params, self.budget
        async with self.sem:
            cost = estimate([case], params, live=live)
            if budget is not None and not budget.try_spend(
                requests=cost.requests, tokens=cost.max_total_tokens
            ):
                return None
            t0 = time.perf_counter()
            if live:
                response = await play(self.target, case.messages, params, case_id=case.id)
            else:
                response = await self.target.generate(case.messages, params, case_id=case.id)
            if budget is not None and response.completion_tokens is not None:
                unused = cost.max_completion_tokens - response.completion_tokens
                budget.refund(tokens=max(0, unused))
            if not response.latency_s:
                response = response.model_copy(update={"latency_s": time.perf_counter() - t0})
            return response


async def _heartbeat(
    store: SQLiteStore,
    run_id: str,
    owner: str,
    tasks: Sequence[asyncio.Task[None]],
    lost: list[bool],
) -> None:
    """Renew the lease while the run works; stop the work if another worker took it over."""
    every = max(0.05, min(10.0, store.lease_timeout_s / 4))
    while True:
        await asyncio.sleep(every)
        if not store.renew_lease(run_id, owner):
            log.error("run %s: lease lost to another worker; stopping", run_id)
            lost.append(True)
            for t in tasks:
                t.cancel()
            return


def with_concurrency(config: RunConfig) -> RunConfig:
    """``config`` with its target provider's default concurrency where it names none."""
    if config.concurrency is not None:
        return config
    from harmscope.targets import default_concurrency

    try:
        default = default_concurrency(config.target)
    except NotFoundError:  # a target object built outside the registry
        default = DEFAULT_CONCURRENCY
    return config.model_copy(update={"concurrency": default})


def _budget(config: RunConfig) -> Budget | None:
    if config.max_requests is None and config.max_tokens is None:
        return None
    return Budget(max_requests=config.max_requests, max_tokens=config.max_tokens)


run = synchronous(run_async)
