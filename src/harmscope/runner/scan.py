"""``scan``: build a run's parts from a RunConfig and run it. The library's main entry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harmscope._sync import synchronous
from harmscope.config import RunConfig
from harmscope.errors import StoreError
from harmscope.records import Case
from harmscope.runner.budget import Budget, Estimate
from harmscope.runner.run import Progress, RunSummary, run_async, with_concurrency
from harmscope.store.sqlite import SQLiteStore

__all__ = ["scan", "scan_async"]


async def scan_async(
    config: RunConfig,
    *,
    db: str | Path,
    resume: str | None = None,
    data_dir: str | Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_estimate: Callable[[Estimate], None] | None = None,
    budget: Budget | None = None,
    overrides: Mapping[str, Any] | None = None,
    use_cache: bool = True,
) -> RunSummary:
    """Run ``config`` (or resume run ``resume`` with its stored config) into the store ``db``.

    ``on_estimate`` receives the cost estimate of the cases still to run before any request
    is sent. ``budget``'s caps (max requests, max tokens) replace the stored ones when resuming, and
    so do ``overrides`` (config fields such as ``timeout_s``, ``retries``,
    ``max_retry_wait_s``). ``use_cache=False`` neither reads nor writes the response cache.

    Raises:
        HarmscopeError: Bad suite, unknown target or judge, a missing store to resume from, a
            store that is unreadable or not writable, a run another process is working on.
    """
    from harmscope.judges import load_judge
    from harmscope.targets import create_target

    cases: list[Case] | None = None
    suite_ref = ""
    if resume is None:  # everything that can fail on bad input fails before the store exists
        cases, suite_ref = _cases(config, data_dir)
        with SQLiteStore(db) as store:
            store.check_writable()
    else:
        if str(db) != ":memory:" and not Path(db).is_file():
            raise StoreError(f"{db}: no such store, so no run {resume!r} to resume (check --db)")
        with SQLiteStore(db, create=False) as store:
            config = store.run(resume).config
            store.check_writable()
        if budget is not None:
            caps = {"max_requests": budget.max_requests, "max_tokens": budget.max_tokens}
            config = config.model_copy(update=caps)
        if overrides:
            config = config.model_copy(update=dict(overrides))
    judges = [load_judge(name) for name in config.judges]
    judge_error = None
    if config.judge_check and judges and not _has_error(db, resume, judges[0].id):
        from harmscope.judges.error import measure_async

        judge_error = await measure_async(judges[0], config.judge_check)
    config = with_concurrency(config)
    target = create_target(config.target, config.target_options())
    try:
        with SQLiteStore(db) as store:
            return await run_async(
                config,
                store=store,
                target=target,
                judges=judges,
                cases=cases,
                suite_ref=suite_ref,
                resume=resume,
                on_progress=on_progress,
                on_estimate=on_estimate,
                judge_error=judge_error,
                use_cache=use_cache,
            )
    finally:
        await target.aclose()


def _has_error(db: str | Path, resume: str | None, judge_id: str) -> bool:
    """Whether the run being resumed already stores ``judge_id``'s measured error."""
    if resume is None:
        return False
    with SQLiteStore(db) as store:
        run_id = store.run(resume).run_id
        return (judge_id, "refusal") in store.judge_errors(run_id)


def _cases(config: RunConfig, data_dir: str | Path | None) -> tuple[list[Case], str]:
    """The cases of a new run: the suite, sampled, then expanded by the transforms."""
    from harmscope.suites import load_suite

    suite = load_suite(config.suite, data_dir=data_dir)
    if config.limit is not None:
        suite = suite.sample(config.limit, seed=config.seed)
    cases = list(suite.cases)
    if config.transforms:
        from harmscope.transforms import apply_transforms

        cases = apply_transforms(
            cases,
            list(config.transforms),
            product=config.transform_product,
            max_compositions=config.max_compositions,
            seed=config.seed,
        )
    return cases, suite.ref


scan = synchronous(scan_async)
