"""Small inline SVG charts: no plotting library, no network, nothing to execute.

Functions return geometry as plain data; the HTML template draws it, so every label passes
through Jinja2's escaping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from harmscope.metrics import Rate

__all__ = [
    "PALETTE",
    "Bar",
    "BarChart",
    "FrontierChart",
    "FrontierItem",
    "PlotArea",
    "Point",
    "bar_chart",
    "frontier_chart",
]


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


PALETTE = ("#2e6da4", "#c0392b", "#27864a", "#8e44ad", "#d68910", "#17838f", "#6d4c41")
"""Series colours (runs in a comparison), chosen to stay apart in print."""


class FrontierItem(NamedTuple):
    """One point to place: a category (or a whole run) in one series."""

    label: str
    series: int
    unsafe_compliance: Rate
    over_refusal: Rate
    overall: bool = False


@dataclass(frozen=True, slots=True)
class Point:
    """A placed point with its interval cross, in SVG user units."""

    label: str
    series: int
    x: float
    y: float
    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    overall: bool
    show_label: bool
    label_left: bool
    text: str


@dataclass(frozen=True, slots=True)
class PlotArea:
    """A chart's size and its plot rectangle, in SVG user units."""

    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int

    @classmethod
    def inside(cls, width: int, height: int, margins: tuple[int, int, int, int]) -> PlotArea:
        """A ``width`` x ``height`` chart's area inside ``(left, top, right, bottom)`` margins."""
        left, top, right, bottom = margins
        return cls(width, height, left, top, width - left - right, height - top - bottom)

    def parts(self) -> tuple[int, int, int, int, int, int]:
        """The six numbers, in field order: what a chart built on this area starts with."""
        return self.width, self.height, self.left, self.top, self.plot_w, self.plot_h


@dataclass(frozen=True, slots=True)
class FrontierChart(PlotArea):
    """Unsafe compliance (y, up is worse) against over-refusal (x, right is worse)."""

    points: tuple[Point, ...]
    xticks: tuple[tuple[float, str], ...]
    yticks: tuple[tuple[float, str], ...]
    series: tuple[str, ...]
    colors: tuple[str, ...]
    left_out: tuple[str, ...]


def _axis_max(values: list[float]) -> float:
    top = max(values, default=0.0)
    return next(m for m in (0.1, 0.25, 0.5, 1.0) if top <= m)


def frontier_chart(
    items: list[FrontierItem],
    *,
    series: tuple[str, ...],
    width: int = 560,
    height: int = 420,
) -> FrontierChart:
    """Lay out the safety–helpfulness frontier; both axes share one scale.

    Items with either rate unmeasured cannot be placed and are listed in ``left_out``. The
    scale is the smallest of 10/25/50/100 % that holds every interval's upper end.
    """
    area = PlotArea.inside(width, height, (54, 16, 24, 44))
    left, top, pw, ph = area.left, area.top, area.plot_w, area.plot_h
    placed = [i for i in items if i.unsafe_compliance.n and i.over_refusal.n]
    left_out = tuple(
        f"{i.label} ({series[i.series]})" if len(series) > 1 else i.label
        for i in items
        if i not in placed
    )
    span = _axis_max([i.unsafe_compliance.ci95[1] for i in placed])
    span = max(span, _axis_max([i.over_refusal.ci95[1] for i in placed]))

    def px(v: float) -> float:
        return left + min(v, span) / span * pw

    def py(v: float) -> float:
        return top + ph - min(v, span) / span * ph

    points = _place(placed, series, px, py, right_edge=left + 0.7 * pw)
    fracs = (0.0, 0.25, 0.5, 0.75, 1.0)
    return FrontierChart(
        *area.parts(),
        points=tuple(points),
        xticks=tuple((px(f * span), f"{100 * f * span:g}%") for f in fracs),
        yticks=tuple((py(f * span), f"{100 * f * span:g}%") for f in fracs),
        series=series,
        colors=tuple(PALETTE[k % len(PALETTE)] for k in range(len(series))),
        left_out=left_out,
    )


def _place(
    placed: list[FrontierItem],
    series: tuple[str, ...],
    px: Callable[[float], float],
    py: Callable[[float], float],
    *,
    right_edge: float,
) -> list[Point]:
    """Points with their interval crosses; labels only where they do not collide."""
    points: list[Point] = []
    labelled: list[tuple[float, float]] = []
    for i in sorted(placed, key=lambda i: (not i.overall, i.series, i.label)):
        uc, orr = i.unsafe_compliance, i.over_refusal
        x, y = px(orr.value or 0.0), py(uc.value or 0.0)
        show = all(abs(x - a) > 40 or abs(y - b) > 12 for a, b in labelled)
        if show:
            labelled.append((x, y))
        points.append(
            Point(
                label=i.label,
                series=i.series,
                x=x,
                y=y,
                x_lo=px(orr.ci95[0]),
                x_hi=px(orr.ci95[1]),
                y_lo=py(uc.ci95[0]),
                y_hi=py(uc.ci95[1]),
                overall=i.overall,
                show_label=show,
                label_left=x > right_edge,
                text=(
                    f"{i.label} ({series[i.series]}): unsafe compliance "
                    f"{100 * (uc.value or 0):.1f}% (n={uc.n}), over-refusal "
                    f"{100 * (orr.value or 0):.1f}% (n={orr.n})"
                ),
            )
        )
    return points
