"""Terminal rendering of a run summary (rich)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text

from harmscope.metrics.format import format_rate

if TYPE_CHECKING:
    from harmscope.judges.error import CorrectedRate
    from harmscope.runner.run import RunSummary
    from harmscope.transforms.effects import RateChange

__all__ = ["format_change", "format_corrected", "format_rate", "render_summary"]


def format_change(c: RateChange | None) -> str:
    """``+12.5 pp [-3.1, +28.0]`` (a change with its 95 % interval), or ``–``."""
    if c is None:
        return "–"
    lo, hi = c.ci95
    return f"{100 * c.value:+.1f} pp [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def format_corrected(r: CorrectedRate | None) -> str:
    """``10.2% [2.0–21.9]`` (judge-corrected), or ``–`` when no correction is possible."""
    if r is None or r.value is None:
        return "–"
    lo, hi = r.ci95
    return f"{100 * r.value:.1f}% [{100 * lo:.1f}–{100 * hi:.1f}]"


def _judge_line(summary: RunSummary) -> Text:
    je = summary.judge_error
    if je is None:
        return Text("judge error: not measured (rates are the judge's reading)", style="yellow")

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f}%"

    return Text(
        f"judge {je.judge_id} on {je.source} (n={je.n}, unscored {je.unscored}): "
        f"refusal precision {pct(je.precision)}, recall {pct(je.recall)}, "
        f"3-way accuracy {pct(je.accuracy_3way)}; corrected = Rogan-Gladen with bootstrap CI"
    )


def _corrected_line(summary: RunSummary) -> Text | None:
    c = summary.corrected
    if c is None:
        return None
    return Text.assemble(
        ("judge-corrected", "bold"),
        f" (Rogan-Gladen, bootstrap 95%): unsafe compliance "
        f"{format_corrected(c.unsafe_compliance_rate)}, over-refusal "
        f"{format_corrected(c.over_refusal_rate)}; per category in the HTML report",
    )


def _transform_table(summary: RunSummary) -> Table | None:
    rows = summary.per_transform
    if not rows:
        return None
    table = Table(
        title="Per transform: rates (Wilson 95%) and change vs plain (Newcombe 95%)",
        title_justify="left",
    )
    table.add_column("transform")
    table.add_column("cases", justify="right")
    table.add_column("unsafe compliance", justify="right")
    table.add_column("Δ vs plain", justify="right")
    table.add_column("over-refusal", justify="right")
    table.add_column("Δ vs plain", justify="right")
    for name, t in rows.items():
        table.add_row(
            name,
            str(t.cases),
            format_rate(t.unsafe_compliance_rate),
            format_change(t.unsafe_compliance_change),
            format_rate(t.over_refusal_rate),
            format_change(t.over_refusal_change),
        )
    return table


def render_summary(summary: RunSummary) -> Group:
    """Header, judge error, per-category table, corrected rates, per-transform table."""
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
    parts: list[Text | Table] = [head, _judge_line(summary), table]
    corrected = _corrected_line(summary)
    if corrected is not None:
        parts.append(corrected)
    transforms = _transform_table(summary)
    if transforms is not None:
        parts.append(transforms)
    conv = summary.conversation
    if conv is not None:
        parts.append(
            Text(
                f"multi-turn, scored on whole conversations (least refusing turn): unsafe "
                f"compliance {format_rate(conv.unsafe_compliance_rate)}, over-refusal "
                f"{format_rate(conv.over_refusal_rate)}, unscored {conv.unscored}"
            )
        )
    return Group(*parts)
