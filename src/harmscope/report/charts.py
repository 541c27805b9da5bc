"""Small inline SVG charts: no plotting library, no network, nothing to execute.

Functions return geometry as plain data; the HTML template draws it, so every label passes
through Jinja2's escaping.
"""

from __future__ import annotations

from dataclasses import dataclass

from harmscope.metrics import Rate

__all__ = ["Bar", "BarChart", "bar_chart"]


@dataclass(frozen=True, slots=True)
class Bar:
    """One horizontal bar with its interval whisker, in SVG user units."""

    label: str
    series: int
    y: float
    width: float
    lo: float
    hi: float
    text: str


@dataclass(frozen=True, slots=True)
class BarChart:
    """A grouped horizontal bar chart of rates (0–100 %)."""

    width: int
    height: int
    left: int
    plot_width: int
    bars: tuple[Bar, ...]
    rows: tuple[tuple[str, float], ...]
    ticks: tuple[tuple[float, str], ...]
    series: tuple[str, ...]


def bar_chart(
    rows: list[tuple[str, list[Rate]]],
    *,
    series: tuple[str, ...],
    width: int = 760,
    left: int = 230,
    bar_h: int = 9,
) -> BarChart:
    """Lay out one group of bars per row; rates with ``n == 0`` are left out."""
    plot_w = width - left - 70
    group_h = bar_h * len(series) + 10
    bars: list[Bar] = []
    labels: list[tuple[str, float]] = []
    for i, (label, rates) in enumerate(rows):
        y0 = 24 + i * group_h
        labels.append((label, y0 + group_h / 2 - 3))
        for s, r in enumerate(rates):
            if r.value is None:
                continue
            bars.append(
                Bar(
                    label=label,
                    series=s,
                    y=y0 + s * bar_h,
                    width=r.value * plot_w,
                    lo=r.ci95[0] * plot_w,
                    hi=r.ci95[1] * plot_w,
                    text=f"{100 * r.value:.0f}% (n={r.n})",
                )
            )
    ticks = tuple((f * plot_w, f"{int(f * 100)}%") for f in (0, 0.25, 0.5, 0.75, 1.0))
    return BarChart(
        width=width,
        height=24 + len(rows) * group_h + 24,
        left=left,
        plot_width=plot_w,
        bars=tuple(bars),
        rows=tuple(labels),
        ticks=ticks,
        series=series,
    )
