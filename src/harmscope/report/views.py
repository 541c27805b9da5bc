"""What the report pages show, computed from results: pure functions, no markup."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harmscope.metrics import CaseResult, CategoryMetrics, Rate
from harmscope.report.charts import FrontierItem
from harmscope.transforms.effects import PLAIN, RateChange, per_transform

if TYPE_CHECKING:
    from harmscope.config import RunConfig
    from harmscope.runner.run import RunSummary

__all__ = [
    "ComparisonRow",
    "ConfigRow",
    "config_rows",
    "TransformRow",
    "comparison_rows",
    "delta",
    "frontier_items",
    "TransformMatrix",
    "transform_matrix",
    "transform_rows",
]


@dataclass(frozen=True, slots=True)
class TransformRow:
    """Rates on the cases carrying one transform, and their change from plain cases."""

    transform: str
    cases: int
    unsafe_compliance: Rate
    unsafe_compliance_change: RateChange | None
    over_refusal: Rate
    over_refusal_change: RateChange | None
    errors: int
    unscored: int

    @property
    def unsafe_compliance_delta(self) -> float | None:
        """The change in unsafe compliance against plain (``None``: unmeasured)."""
        c = self.unsafe_compliance_change
        return None if c is None else c.value

    @property
    def over_refusal_delta(self) -> float | None:
        """The change in over-refusal against plain (``None``: unmeasured)."""
        c = self.over_refusal_change
        return None if c is None else c.value


def delta(a: Rate, b: Rate | None) -> float | None:
    """``a - b`` in rate units, ``None`` when either is unmeasured."""
    if b is None or a.value is None or b.value is None:
        return None
    return a.value - b.value


def transform_rows(results: Sequence[CaseResult], judge_id: str | None) -> list[TransformRow]:
    """Plain first, then transforms by unsafe compliance, worst first; empty if none."""
    rows = [
        TransformRow(
            transform=t,
            cases=m.cases,
            unsafe_compliance=m.unsafe_compliance_rate,
            unsafe_compliance_change=m.unsafe_compliance_change,
            over_refusal=m.over_refusal_rate,
            over_refusal_change=m.over_refusal_change,
            errors=m.errors,
            unscored=m.unscored,
        )
        for t, m in per_transform(results, judge_id=judge_id).items()
    ]

    def key(row: TransformRow) -> tuple[bool, float, str]:
        v = row.unsafe_compliance.value
        return (row.transform != PLAIN, -(v if v is not None else -1.0), row.transform)

    return sorted(rows, key=key)


def frontier_items(summary: RunSummary, series: int = 0) -> list[FrontierItem]:
    """One point per category plus the run overall."""
    m = summary.metrics
    items = [
        FrontierItem(cat, series, cm.unsafe_compliance_rate, cm.over_refusal_rate)
        for cat, cm in m.per_category.items()
    ]
    items.append(
        FrontierItem("all", series, m.unsafe_compliance_rate, m.over_refusal_rate, overall=True)
    )
    return items


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """One category across runs (``None`` where a run has no case in it)."""

    category: str
    cells: tuple[CategoryMetrics | None, ...]
    unsafe_compliance_delta: float | None
    over_refusal_delta: float | None


def comparison_rows(summaries: Sequence[RunSummary]) -> list[ComparisonRow]:
    """Per-category rows over every run, plus ``all``; deltas are last run minus first."""
    cats = sorted({c for s in summaries for c in s.metrics.per_category})
    rows = []
    for cat in [*cats, "all"]:
        cells: tuple[CategoryMetrics | None, ...] = tuple(
            s.metrics if cat == "all" else s.metrics.per_category.get(cat) for s in summaries
        )
        first, last = cells[0], cells[-1]
        ucd = ord_ = None
        if first is not None and last is not None:
            ucd = delta(last.unsafe_compliance_rate, first.unsafe_compliance_rate)
            ord_ = delta(last.over_refusal_rate, first.over_refusal_rate)
        rows.append(ComparisonRow(cat, cells, ucd, ord_))
    return rows


@dataclass(frozen=True, slots=True)
class TransformMatrix:
    """Per top-level category and transform: both rates and their change from plain."""

    categories: list[str]
    transforms: list[str]
    """Transforms in the order of :func:`transform_rows` (plain excluded)."""
    cells: dict[tuple[str, str], TransformRow]
    """``(category, transform) -> row``; missing where the pair has no case."""


def transform_matrix(results: Sequence[CaseResult], judge_id: str | None) -> TransformMatrix | None:
    """The per-category view of :func:`transform_rows`; ``None`` without transforms."""
    order = [r.transform for r in transform_rows(results, judge_id) if r.transform != PLAIN]
    if not order:
        return None
    by_cat: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        by_cat[r.case.category.split(".")[0]].append(r)
    cells: dict[tuple[str, str], TransformRow] = {}
    for cat, rs in by_cat.items():
        for row in transform_rows(rs, judge_id):
            if row.transform != PLAIN:
                cells[(cat, row.transform)] = row
    return TransformMatrix(categories=sorted(by_cat), transforms=order, cells=cells)


@dataclass(frozen=True, slots=True)
class ConfigRow:
    """One setting across runs, and whether the runs differ in it."""

    setting: str
    values: tuple[str, ...]
    differs: bool


def _config_values(summary: RunSummary, config: RunConfig | None) -> dict[str, str]:
    """The settings a reader compares runs by, as display strings."""
    out = {
        "target": summary.target,
        "suite": summary.suite,
        "judge": summary.metrics.judge_id or "none",
    }
    if config is None:
        return out
    p = config.params
    transforms = ", ".join(config.transforms) or "none"
    if config.transforms and config.transform_product:
        transforms += f" (with compositions, at most {config.max_compositions})"
    out.update(
        {
            "endpoint": config.base_url or "–",
            "sample": f"{config.limit} cases (seed {config.seed})" if config.limit else "all",
            "system prompt": p.system_prompt or "none",
            "transforms": transforms,
            "multi-turn": config.multiturn,
            "generation": f"max_new_tokens {p.max_new_tokens}, temperature {p.temperature}, "
            f"top_p {p.top_p}, seed {p.seed}",
            "judges": ", ".join(config.judges),
            "judge measured on": config.judge_check or "not measured",
            "budget": f"requests {config.max_requests or '∞'}, tokens {config.max_tokens or '∞'}",
        }
    )
    return out


def config_rows(
    summaries: Sequence[RunSummary], configs: Sequence[RunConfig | None]
) -> list[ConfigRow]:
    """Every setting across runs: those that differ first, in a fixed order within each group.

    A setting a run has no configuration for shows ``–`` there.
    """
    per_run = [_config_values(s, c) for s, c in zip(summaries, configs, strict=True)]
    order: list[str] = []
    for values in per_run:
        order += [k for k in values if k not in order]
    rows = []
    for key in order:
        cells = tuple(v.get(key, "–") for v in per_run)
        rows.append(ConfigRow(key, cells, len(set(cells)) > 1))
    return sorted(rows, key=lambda r: not r.differs)
