"""``harmscope scan``.

SIGTERM stops a scan like Ctrl-C: the run is marked ``stopped`` and ``--resume`` continues it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harmscope.cli import _options as opt
from harmscope.cli._common import err, fail, out, print_json
from harmscope.config import RunConfig
from harmscope.errors import HarmscopeError
from harmscope.metrics.rates import CaseResult
from harmscope.records import GenerationParams
from harmscope.runner.budget import Budget, Estimate
from harmscope.runner.run import Progress as RunProgress
from harmscope.runner.run import RunSummary
from harmscope.store import DEFAULT_DB

__all__ = ["scan"]

_D = RunConfig()
"""Every option's default is the run configuration's own."""


def scan(
    target: Annotated[
        str, typer.Option(help="provider/model: hf/default, openai/NAME, ...")
    ] = _D.target,
    base_url: Annotated[str | None, typer.Option(help="Endpoint of an HTTP target.")] = None,
    suite: Annotated[str, typer.Option(help="Suite name or JSONL file.")] = _D.suite,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Run a stratified sample of N cases.")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, help="Requests in flight (hf: batch size) [the provider's: harmscope targets]."
        ),
    ] = None,
    judge: Annotated[
        list[str] | None, typer.Option(help="Judge name (repeat for several).")
    ] = None,
    judge_check: Annotated[
        str,
        typer.Option(
            help="Labelled data the first judge is measured on to correct the rates: "
            "checkset, xstest, harmbench-val, a labelled JSONL file, or none."
        ),
    ] = str(_D.judge_check),
    multiturn: Annotated[
        str,
        typer.Option(
            help="Multi-turn cases: 'scripted' sends the authored history at once; 'live' sends "
            "one user turn at a time with the target's own answers, scoring every turn."
        ),
    ] = _D.multiturn,
    max_new_tokens: Annotated[int, typer.Option(min=1)] = _D.params.max_new_tokens,
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0)] = _D.params.temperature,
    system_prompt: Annotated[
        str | None, typer.Option(help="System message for every case.")
    ] = None,
    seed: Annotated[int, typer.Option()] = _D.seed,
    db: Annotated[Path, typer.Option(help="SQLite store file.")] = Path(DEFAULT_DB),
    resume: Annotated[
        str | None, typer.Option(help="Continue a stopped run (id or 'latest').")
    ] = None,
    data_dir: opt.DataDirOption = None,
    report_dir: Annotated[Path, typer.Option(help="Where the HTML report goes.")] = Path(
        "harmscope-reports"
    ),
    transforms: Annotated[
        str | None,
        typer.Option(help="Comma-separated transforms (ids, families, a+b); see `transforms`."),
    ] = None,
    transform_product: Annotated[
        bool,
        typer.Option(
            help="Besides each listed transform, also run compositions taking one transform "
            "from each spec (at most --max-compositions, sampled by --seed)."
        ),
    ] = False,
    max_compositions: Annotated[
        int, typer.Option(min=1, help="Most compositions --transform-product adds.")
    ] = _D.max_compositions,
    max_requests: Annotated[
        int | None, typer.Option(min=1, help="Stop (resumable) after N target requests.")
    ] = None,
    max_tokens: opt.MaxTokensOption = None,
    latent_probe: Annotated[
        str | None,
        typer.Option(
            help="hf targets: folder of a fitted latent probe (`latent fit --out`) whose "
            "harm-belief and refusal signals each answer records; default: the probe shipped "
            "for the model, if any; 'none' turns signals off."
        ),
    ] = None,
    timeout: opt.TimeoutOption = None,
    retries: opt.RetriesOption = None,
    max_retry_wait: opt.MaxRetryWaitOption = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache", help="Neither read answers from the response cache nor add them to it."
        ),
    ] = False,
    as_json: opt.JsonOption = False,
) -> None:
    """Scan a target with a suite; store every answer and verdict; report the rates."""
    if multiturn not in ("scripted", "live"):
        fail(f"--multiturn must be scripted or live, not {multiturn!r}")
    http = opt.http_settings(timeout, retries, max_retry_wait)
    config = RunConfig(
        target=target,
        base_url=base_url,
        suite=suite,
        limit=limit,
        seed=seed,
        concurrency=concurrency,
        judges=tuple(judge or _D.judges),
        judge_check=None if judge_check.lower() == "none" else judge_check,
        multiturn="live" if multiturn == "live" else "scripted",
        transforms=tuple(t.strip() for t in (transforms or "").split(",") if t.strip()),
        transform_product=transform_product,
        max_compositions=max_compositions,
        max_requests=max_requests,
        max_tokens=max_tokens,
        latent_probe=latent_probe,
        **http,
        params=GenerationParams(
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            seed=seed,
            system_prompt=system_prompt,
        ),
    )
    summary = _run(
        config,
        db=db,
        resume=resume,
        data_dir=data_dir,
        budget=Budget(max_requests, max_tokens) if resume else None,
        overrides=http,
        use_cache=not no_cache,
        quiet=as_json,
    )
    _report(summary, db=db, report_dir=report_dir, as_json=as_json)


def _progress_bar(quiet: bool) -> Progress:
    """The scan's progress bar on stderr (gone when done if ``quiet``)."""
    return Progress(
        TextColumn("[bold]scan"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("errors {task.fields[errors]}  cached {task.fields[cached]}"),
        TimeElapsedColumn(),
        console=err,
        transient=quiet,
    )


def _run(
    config: RunConfig, *, db: Path, resume: str | None, quiet: bool, **options: Any
) -> RunSummary:
    """:func:`~harmscope.runner.scan_async` with the plan, a progress bar and a clean stop.

    Ctrl-C or SIGTERM stops the run (stored as ``stopped``) and exits with 128 + the signal
    and the command that continues it.
    """
    from harmscope.runner import scan_async

    bar = _progress_bar(quiet)
    task = bar.add_task("scan", total=None, errors=0, cached=0)

    def plan(e: Estimate) -> None:  # the run is set up: show the plan, then the bar
        err.print(
            f"plan: {e.requests} requests, ≤ {e.max_total_tokens} tokens (before cache hits)",
            highlight=False,
        )
        bar.start()

    def progress(p: RunProgress) -> None:
        bar.update(task, completed=p.done, total=p.total, errors=p.errors, cached=p.cached)

    terminated: list[int] = []
    try:
        with _sigterm_as_interrupt(terminated):
            return asyncio.run(
                scan_async(
                    config, db=db, resume=resume, on_progress=progress, on_estimate=plan, **options
                )
            )
    except KeyboardInterrupt:
        fail(
            f"stopped; continue with: harmscope scan --db {db} --resume latest",
            code=128 + (terminated[0] if terminated else signal.SIGINT),
        )
    finally:
        if bar.live.is_started:
            bar.stop()


def _write_report(
    summary: RunSummary, results: list[CaseResult], db: Path, report_dir: Path
) -> tuple[Path | None, str | None]:
    """The HTML report's path, or why it could not be written (the run itself is stored)."""
    from harmscope.report import write_html

    try:
        return write_html(summary, results, report_dir), None
    except (OSError, HarmscopeError) as exc:
        why = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
        return None, (
            f"run {summary.run_id} is {summary.status} in {db}, but its report could not be "
            f"written to {report_dir} ({why}); write it later with: harmscope report --db {db} "
            f"--out DIR {summary.run_id}"
        )


def _report(summary: RunSummary, *, db: Path, report_dir: Path, as_json: bool) -> None:
    """Print the summary (or its JSON) and the report's path; fail if nothing was answered."""
    from harmscope.report import render_summary
    from harmscope.store import SQLiteStore

    with SQLiteStore(db) as store:
        results = store.results(summary.run_id)
    report, report_error = _write_report(summary, results, db, report_dir)
    if as_json:
        print_json({**summary.model_dump(mode="json"), "report": report and str(report)})
    else:
        out.print(render_summary(summary))
        if report is not None:
            out.print(f"report: [bold]{report}[/]", highlight=False, soft_wrap=True)
    if report_error is not None:
        fail(report_error)
    if summary.stop_reason:
        err.print(f"stopped: {summary.stop_reason}", highlight=False, soft_wrap=True)
    if summary.cases and summary.errors == summary.cases:
        first = next((r.response.error for r in results if r.response and r.response.error), "")
        fail(
            f"all {summary.cases} requests failed (first: {first}); fix the target and "
            f"continue with: harmscope scan --db {db} --resume {summary.run_id}",
            code=1,
        )


@contextmanager
def _sigterm_as_interrupt(received: list[int]) -> Iterator[None]:
    """While inside, SIGTERM is delivered as SIGINT (the run stops cleanly, resumable)."""

    def on_term(signum: int, _frame: object) -> None:
        received.append(signum)
        signal.raise_signal(signal.SIGINT)

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
