"""Static HTML reports: one self-contained page per run, and a comparison page across runs.

Every piece of model or case text goes through Jinja2 autoescaping and, by default, the
cards' redaction; the page carries a Content-Security-Policy that forbids scripts and every
network load, and its charts are inline SVG drawn from plain geometry.

Pages are written atomically (:mod:`harmscope.fsutil`): a killed run never leaves a
half-written page in place of a good one. The report folder is created if missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harmscope.cards.build import build_cards, find_judge_error, outcome
from harmscope.cards.model import CONTENT_WARNING, JudgeError, RedactionOptions, RiskCard
from harmscope.cards.redact import redact as redact_text
from harmscope.cards.scenario import RULE, Scenario
from harmscope.errors import HarmscopeError
from harmscope.fsutil import check_output_dir
from harmscope.metrics import CaseResult
from harmscope.report.charts import bar_chart, frontier_chart
from harmscope.report.render import render_template, write_page
from harmscope.report.views import (
    comparison_rows,
    config_rows,
    frontier_items,
    transform_matrix,
    transform_rows,
)
from harmscope.taxonomy import load_taxonomy

if TYPE_CHECKING:
    from harmscope.config import RunConfig
    from harmscope.runner.run import RunSummary

__all__ = ["render_comparison", "render_html", "write_comparison", "write_html"]


def _examples(results: Sequence[CaseResult], judge_id: str | None, limit: int) -> list[CaseResult]:
    """Failures first: unsafe compliance, then over-refusal, then the rest."""

    def rank(r: CaseResult) -> int:
        o = outcome(r, judge_id)
        if o in {"pending", "error", "unscored"}:
            return 3
        if r.case.expected == "refuse" and o != "refused":
            return 0
        if r.case.expected == "comply" and o != "complied":
            return 1
        return 2

    return sorted(results, key=rank)[:limit]


def _names() -> dict[str, str]:
    return {c.id: c.name for c in load_taxonomy()}


def render_html(
    summary: RunSummary,
    results: Sequence[CaseResult],
    *,
    examples: int = 60,
    scenario: Scenario | None = None,
    judge_error: JudgeError | None = None,
    redact: bool = True,
    cards: Sequence[RiskCard] | None = None,
    config: RunConfig | None = None,
) -> str:
    """The report page of one run as a string.

    Args:
        summary: The run's summary.
        results: The run's case results.
        examples: How many cases to list (failures first).
        scenario: Deployment to read the cards against.
        judge_error: The judge's measured error (else one stored on the summary, if any).
        redact: Redact example text (it is truncated either way).
        cards: Cards to show; by default those built from this run (measured ones only).
        config: The run's stored configuration, shown in a settings table when given.
    """
    m = summary.metrics
    jerr = judge_error if judge_error is not None else find_judge_error(summary)
    if cards is None:
        cards = build_cards(
            summary, results, scenario=scenario, judge_error=jerr, redact=redact, measured_only=True
        )
    rows = [
        (cat, [cm.unsafe_compliance_rate, cm.over_refusal_rate])
        for cat, cm in m.per_category.items()
    ]
    opts = RedactionOptions(max_chars=600, keep_words=None)
    shown = [
        (r, outcome(r, m.judge_id), redact_text(r.case.prompt, opts, enabled=redact))
        for r in _examples(results, m.judge_id, examples)
    ]
    return render_template(
        "run.html.j2",
        s=summary,
        m=m,
        chart=bar_chart(rows, series=("unsafe compliance", "over-refusal")),
        frontier=frontier_chart(frontier_items(summary), series=(summary.run_id,)),
        names=_names(),
        examples=shown,
        answer=lambda t: redact_text(t or "", opts, enabled=redact),
        judge_id=m.judge_id,
        judge_error=jerr,
        transforms=transform_rows(results, m.judge_id),
        matrix=transform_matrix(results, m.judge_id),
        scenario=scenario,
        rule=RULE,
        cards=cards,
        redact=redact,
        content_warning=CONTENT_WARNING,
        settings=config_rows([summary], [config]) if config is not None else None,
        latent=latent_link(summary.run_id, results, m.judge_id),
    )


def latent_link(
    run_id: str, results: Sequence[CaseResult], judge_id: str | None
) -> tuple[str, int, int, int] | None:
    """``(page, cases with signals, likely jailbreaks, over-refusals)`` when signals exist."""
    from harmscope.report.latent import dissociation, has_signals, latent_page_name

    if not has_signals(results):
        return None
    d = dissociation(results, judge_id)
    return latent_page_name(run_id), len(d.rows), d.likely_jailbreak, d.over_refusal


def write_html(
    summary: RunSummary,
    results: Sequence[CaseResult],
    directory: str | Path,
    *,
    examples: int = 60,
    scenario: Scenario | None = None,
    judge_error: JudgeError | None = None,
    redact: bool = True,
    config: RunConfig | None = None,
    filename: str | None = None,
) -> Path:
    """Write ``<directory>/<run_id>.html`` atomically and return its path.

    The options are those of :func:`render_html`; ``filename`` replaces ``<run_id>.html``.
    A latent-signals page, when the run has signals, goes beside it.

    Raises:
        OutputError: The folder cannot be created or written.
    """
    check_output_dir(directory)
    page = render_html(
        summary,
        results,
        examples=examples,
        scenario=scenario,
        judge_error=judge_error,
        redact=redact,
        config=config,
    )
    written = write_page(Path(directory) / (filename or f"{summary.run_id}.html"), page)
    from harmscope.report.latent import has_signals, latent_page_name, write_latent_page

    if has_signals(results):
        write_latent_page(
            Path(directory) / latent_page_name(summary.run_id),
            title=f"harmscope run {summary.run_id}: latent signals",
            results=results,
            judge_id=summary.metrics.judge_id,
            run_page=written.name,
        )
    return written


def render_comparison(
    summaries: Sequence[RunSummary],
    results_list: Sequence[Sequence[CaseResult]],
    *,
    judge_errors: Sequence[JudgeError | None] | None = None,
    configs: Sequence[RunConfig | None] | None = None,
) -> str:
    """A page comparing two or more runs: what differs, rates, frontier, judges, transforms.

    Deltas are the last run minus the first. ``configs`` (each run's stored configuration)
    fill the "what differs" table; without them it compares target, suite and judge only.

    Raises:
        HarmscopeError: Fewer than two runs, or results not given for each run.
    """
    if len(summaries) < 2:
        raise HarmscopeError("a comparison needs at least two runs")
    if len(results_list) != len(summaries):
        raise HarmscopeError("give one results list per run")
    if judge_errors is None:
        judge_errors = [find_judge_error(s) for s in summaries]
    if configs is None:
        configs = [None] * len(summaries)
    if len(configs) != len(summaries):
        raise HarmscopeError("give one configuration (or None) per run")
    items = [it for k, s in enumerate(summaries) for it in frontier_items(s, k)]
    labels = tuple(s.run_id for s in summaries)
    return render_template(
        "compare.html.j2",
        runs=list(zip(summaries, judge_errors, strict=True)),
        settings=config_rows(summaries, configs),
        rows=comparison_rows(summaries),
        frontier=frontier_chart(items, series=labels, width=640, height=460),
        names=_names(),
        transforms=[
            transform_rows(rs, s.metrics.judge_id)
            for s, rs in zip(summaries, results_list, strict=True)
        ],
    )


def write_comparison(
    summaries: Sequence[RunSummary],
    results_list: Sequence[Sequence[CaseResult]],
    directory: str | Path,
    *,
    judge_errors: Sequence[JudgeError | None] | None = None,
    configs: Sequence[RunConfig | None] | None = None,
    filename: str | None = None,
) -> Path:
    """Write ``<directory>/compare-<first>-<last>.html`` atomically and return its path.

    ``filename`` replaces the default name.

    Raises:
        OutputError: The folder cannot be created or written.
    """
    check_output_dir(directory)
    page = render_comparison(summaries, results_list, judge_errors=judge_errors, configs=configs)
    name = filename or f"compare-{summaries[0].run_id}-{summaries[-1].run_id}.html"
    return write_page(Path(directory) / name, page)
