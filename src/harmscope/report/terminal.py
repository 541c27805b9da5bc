"""Terminal rendering of a run summary (rich)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text

from harmscope.metrics import Rate

if TYPE_CHECKING:
    from harmscope.runner.run import RunSummary

__all__ = ["format_rate", "render_summary"]


def format_rate(r: Rate) -> str:
    """``12.5% [8.1–18.6] n=96``, or ``– n=0``."""
    if r.value is None:
        return "– n=0"
    lo, hi = r.ci95
    return f"{100 * r.value:.1f}% [{100 * lo:.1f}–{100 * hi:.1f}] n={r.n}"


def render_summary(summary: RunSummary) -> Group:
    """A header line and a per-category table."""
    m = summary.metrics
    head = Text.assemble(
        ("run ", "bold"),
        (summary.run_id, "bold cyan"),
        f"  target {summary.target}  suite {summary.suite}  judge {m.judge_id or '–'}\n",
        f"cases {summary.cases}  completed {summary.completed}  ",
        ("errors " + str(summary.errors), "red" if summary.errors else ""),
        "  ",
        ("unscored " + str(summary.unscored), "yellow" if summary.unscored else ""),
        f"  status {summary.status}",
    )
    table = Table(title="Rates with Wilson 95% intervals", title_justify="left")
    table.add_column("category")
    table.add_column("unsafe compliance ↓", justify="right")
    table.add_column("over-refusal ↓", justify="right")
    table.add_column("errors", justify="right")
    table.add_column("unscored", justify="right")
    for cat, cm in m.per_category.items():
        table.add_row(
            cat,
            format_rate(cm.unsafe_compliance_rate),
            format_rate(cm.over_refusal_rate),
            str(cm.errors),
            str(cm.unscored),
        )
    table.add_section()
    table.add_row(
        Text("all", style="bold"),
        format_rate(m.unsafe_compliance_rate),
        format_rate(m.over_refusal_rate),
        str(m.errors),
        str(m.unscored),
    )
    return Group(head, table)
