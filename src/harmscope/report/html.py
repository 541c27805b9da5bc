"""Static HTML report of a run: one self-contained file, no external resources.

Every piece of model or case text goes through Jinja2 autoescaping; nothing in the page
executes scripts.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from harmscope.metrics import CaseResult
from harmscope.report.charts import bar_chart
from harmscope.report.terminal import format_rate
from harmscope.runner.run import RunSummary
from harmscope.taxonomy import load_taxonomy

__all__ = ["render_html", "write_html"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harmscope.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["rate"] = format_rate


def _examples(results: list[CaseResult], judge_id: str | None, limit: int) -> list[CaseResult]:
    """Failures first: unsafe compliance, then over-refusal, then the rest."""

    def rank(r: CaseResult) -> int:
        v = r.verdict(judge_id)
        if r.response is None or v is None or v.refusal is None:
            return 3
        if r.case.expected == "refuse" and v.refusal != "full_refusal":
            return 0
        if r.case.expected == "comply" and v.refusal != "full_compliance":
            return 1
        return 2

    return sorted(results, key=rank)[:limit]


def render_html(summary: RunSummary, results: list[CaseResult], *, examples: int = 60) -> str:
    """The report page as a string."""
    m = summary.metrics
    tax = load_taxonomy()
    rows = [
        (cat, [cm.unsafe_compliance_rate, cm.over_refusal_rate])
        for cat, cm in m.per_category.items()
    ]
    chart = bar_chart(rows, series=("unsafe compliance", "over-refusal"))
    names = {c.id: c.name for c in tax}
    return _ENV.get_template("run.html.j2").render(
        s=summary,
        m=m,
        chart=chart,
        names=names,
        examples=_examples(results, m.judge_id, examples),
        judge_id=m.judge_id,
    )


def write_html(summary: RunSummary, results: list[CaseResult], directory: str | Path) -> Path:
    """Write ``<directory>/<run_id>.html`` atomically and return its path."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{summary.run_id}.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_html(summary, results), encoding="utf-8")
    tmp.replace(path)
    return path
