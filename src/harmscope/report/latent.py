"""Latent pages: per-layer AUROC of the Latent Guard, and a run's harm-belief/refusal signals.

* :func:`auroc_series` reads a fit or eval result (:mod:`harmscope.latent.results`), or the
  JSON ``harmscope latent eval --json`` prints or ``harmscope latent fit`` saves as
  ``report.json``, through the typed :class:`AurocView`; :func:`auroc_chart` lays its
  per-layer AUROC out as an inline SVG line chart (one line per token position and split).
* :func:`dissociation` reads the ``signals`` a scan of a local model stored with each response
  and flags the two dissociations between what the model *believes* (harm belief at t_inst)
  and what it *does* (refusal at t_post-inst, or the judge's refusal verdict when the probe has
  no refusal direction): a should-refuse case with high harm belief and no refusal (a likely
  jailbreak), and a should-answer case with low harm belief and a refusal (over-refusal).

Everything is rendered through Jinja2 autoescaping; the page runs no scripts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from harmscope.metrics import CaseResult, outcome
from harmscope.report.charts import PALETTE, PlotArea
from harmscope.report.render import render_template, write_page

__all__ = [
    "AurocChart",
    "AurocView",
    "Dissociation",
    "SignalRow",
    "auroc_chart",
    "auroc_series",
    "dissociation",
    "has_signals",
    "latent_page_name",
    "render_latent_page",
    "write_latent_page",
]

HARM_BELIEF = "harm_belief"
HARM_THRESHOLD = "harm_belief_threshold"
REFUSAL = "refusal"
Flag = Literal["likely_jailbreak", "over_refusal"]
Series = tuple[str, tuple[tuple[int, float], ...]]
"""A named line: ``(name, ((layer, auroc), ...))``."""


# -- per-layer AUROC --------------------------------------------------------------------------


class _Row(BaseModel):
    layer: int
    auroc: float
    position: int | None = None


class _Test(BaseModel):
    per_layer: list[_Row] = []


class _GuardView(BaseModel):
    per_layer_val: list[_Row] = []
    test: _Test | None = None


class AurocView(BaseModel):
    """What a latent page shows of a fit or eval result; every part may be missing.

    Built from a :class:`~harmscope.latent.results.FitResult`, an
    :class:`~harmscope.latent.results.EvalResult`, or their saved JSON.
    """

    model_config = ConfigDict(extra="ignore")
    model_id: str | None = None
    data: str | None = None
    guard: str | _GuardView | None = None
    """Eval: the guard's folder or fitting set; fit: the guard's validation (and test) AUROC."""
    auroc: float | None = None
    layer: int | None = None
    n: int | dict[str, int] | None = None
    """Eval: prompts evaluated; fit: prompts per split."""
    per_layer: list[_Row] = []
    post_per_layer_val: list[_Row] = []

    @classmethod
    def of(cls, data: BaseModel | Mapping[str, Any]) -> AurocView:
        """The view of a result model or of its JSON."""
        raw = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
        return cls.model_validate(raw)


def _points(rows: Sequence[_Row]) -> tuple[tuple[int, float], ...]:
    return tuple(sorted((r.layer, r.auroc) for r in rows))


def auroc_series(data: AurocView | BaseModel | Mapping[str, Any]) -> list[Series]:
    """Per-layer AUROC lines found in ``latent eval --json`` output or ``latent fit``'s report.

    Eval output gives one t_inst line; a fit report gives t_inst on validation (and test when
    present) and one line per t_post-inst offset on validation.
    """
    view = data if isinstance(data, AurocView) else AurocView.of(data)
    out: list[Series] = []
    if view.per_layer:
        out.append(("t_inst", _points(view.per_layer)))
    if isinstance(view.guard, _GuardView):
        out.append(("t_inst (validation)", _points(view.guard.per_layer_val)))
        if view.guard.test is not None:
            out.append(("t_inst (test)", _points(view.guard.test.per_layer)))
    by_pos: dict[int, list[_Row]] = {}
    for row in view.post_per_layer_val:
        by_pos.setdefault(row.position if row.position is not None else 0, []).append(row)
    for pos in sorted(by_pos):
        out.append((f"t_post-inst {pos} (validation)", _points(by_pos[pos])))
    return [s for s in out if s[1]]


@dataclass(frozen=True, slots=True)
class Line:
    """One polyline of the chart, in SVG user units."""

    name: str
    color: str
    points: str
    """``"x1,y1 x2,y2 ..."``."""
    dots: tuple[tuple[float, float, str], ...]
    """``(x, y, tooltip)`` per layer."""


@dataclass(frozen=True, slots=True)
class AurocChart(PlotArea):
    """AUROC (0.5-1 axis, lower values clamped) against layer, one line per series."""

    lines: tuple[Line, ...]
    xticks: tuple[tuple[float, str], ...]
    yticks: tuple[tuple[float, str], ...]


def auroc_chart(series: Sequence[Series], *, width: int = 640, height: int = 320) -> AurocChart:
    """Lay out per-layer AUROC lines; the y axis runs from 0.5 (chance) to 1."""
    area = PlotArea.inside(width, height, (54, 14, 20, 40))
    left, top, pw, ph = area.left, area.top, area.plot_w, area.plot_h
    n_layers = max((layer for _, pts in series for layer, _ in pts), default=0) + 1

    def px(layer: float) -> float:
        return left + (layer / max(n_layers - 1, 1)) * pw

    def py(v: float) -> float:
        return top + ph - (min(max(v, 0.5), 1.0) - 0.5) / 0.5 * ph

    lines = []
    for k, (name, pts) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        coords = [(px(layer), py(v), f"{name}, layer {layer}: AUROC {v:.3f}") for layer, v in pts]
        lines.append(
            Line(name, color, " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords), tuple(coords))
        )
    step = max(1, n_layers // 10)
    return AurocChart(
        *area.parts(),
        lines=tuple(lines),
        xticks=tuple((px(i), str(i)) for i in range(0, n_layers, step)),
        yticks=tuple((py(v), f"{v:.1f}") for v in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)),
    )


# -- signals and dissociation -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalRow:
    """One case's latent signals and what they say next to its behaviour."""

    case_id: str
    category: str
    expected: str
    harm_belief: float
    belief_threshold: float
    """The harm belief at or above which this case counts as believed harmful."""
    refusal: float | None
    """Latent refusal score, when the probe has a refusal direction."""
    refused: bool | None
    """Refusal behaviour: latent score >= threshold, else the judge's verdict (partial counts)."""
    source: Literal["latent", "judge"]
    """Where ``refused`` comes from."""
    flag: Flag | None


@dataclass(frozen=True, slots=True)
class Dissociation:
    """Signals of a run and its dissociation flags."""

    rows: tuple[SignalRow, ...]
    belief_threshold: float
    """Used for responses whose signals carry no operating point of their probe."""
    refusal_threshold: float
    probe_thresholds: tuple[float, ...] = ()
    """The distinct operating points the responses' signals carried (empty: none did)."""

    def _beliefs(self, expected: str) -> list[float]:
        return [r.harm_belief for r in self.rows if r.expected == expected]

    @property
    def mean_belief(self) -> dict[str, float]:
        """Mean harm belief of should-refuse and should-answer cases (those present)."""
        means = {}
        for label in ("refuse", "comply"):
            values = self._beliefs(label)
            if values:
                means[label] = sum(values) / len(values)
        return means

    @property
    def belief_auroc(self) -> float | None:
        """How well harm belief separates this run's should-refuse from should-answer cases.

        The probe's threshold is tuned on its own fitting data; on another suite its
        probabilities can shift while the ranking holds, and this says how well it holds here.
        None unless both kinds of case are present.
        """
        from harmscope.latent.probe import auroc

        pos, neg = self._beliefs("refuse"), self._beliefs("comply")
        if not pos or not neg:
            return None
        return auroc([1] * len(pos) + [0] * len(neg), pos + neg)

    @property
    def likely_jailbreak(self) -> int:
        """Should-refuse cases with high harm belief that were not refused."""
        return sum(r.flag == "likely_jailbreak" for r in self.rows)

    @property
    def over_refusal(self) -> int:
        """Should-answer cases with low harm belief that were refused."""
        return sum(r.flag == "over_refusal" for r in self.rows)


def has_signals(results: Sequence[CaseResult]) -> bool:
    """Whether any response of the run carries a harm-belief signal."""
    return any(r.response is not None and HARM_BELIEF in r.response.signals for r in results)


def _flag(expected: str, high_belief: bool, refused: bool | None) -> Flag | None:
    if refused is None:
        return None
    if expected == "refuse" and high_belief and not refused:
        return "likely_jailbreak"
    if expected == "comply" and not high_belief and refused:
        return "over_refusal"
    return None


def dissociation(
    results: Sequence[CaseResult],
    judge_id: str | None,
    *,
    belief_threshold: float = 0.5,
    refusal_threshold: float = 0.5,
) -> Dissociation:
    """Flag dissociations between harm belief and refusal, case by case.

    High harm belief means ``harm_belief`` at or above the probe's operating point carried in
    the signals (``harm_belief_threshold``), else ``belief_threshold``. Refused means the latent
    ``refusal`` score ``>= refusal_threshold`` when the response has one, else the judge
    ``judge_id`` read a full or partial refusal (unscored, errored: no flag).
    """
    rows = []
    carried: set[float] = set()
    for r in results:
        sig = r.response.signals if r.response is not None else {}
        if HARM_BELIEF not in sig:
            continue
        belief = sig[HARM_BELIEF]
        cut = sig.get(HARM_THRESHOLD, belief_threshold)
        if HARM_THRESHOLD in sig:
            carried.add(cut)
        latent = sig.get(REFUSAL)
        if latent is not None:
            refused: bool | None = latent >= refusal_threshold
            source: Literal["latent", "judge"] = "latent"
        else:
            o = outcome(r, judge_id)
            refused = {"refused": True, "partial": True, "complied": False}.get(o)
            source = "judge"
        flag = _flag(r.case.expected, belief >= cut, refused)
        rows.append(
            SignalRow(
                r.case.id,
                r.case.category,
                r.case.expected,
                belief,
                cut,
                latent,
                refused,
                source,
                flag,
            )
        )
    return Dissociation(tuple(rows), belief_threshold, refusal_threshold, tuple(sorted(carried)))


# -- pages ---------------------------------------------------------------------------------------


def latent_page_name(run_id: str) -> str:
    """File name of a run's latent page, next to its run report."""
    return f"{run_id}-latent.html"


def render_latent_page(
    *,
    title: str,
    auroc: BaseModel | Mapping[str, Any] | None = None,
    results: Sequence[CaseResult] | None = None,
    judge_id: str | None = None,
    run_page: str | None = None,
) -> str:
    """A latent page: per-layer AUROC of ``auroc``, signals of ``results``, or both.

    ``auroc`` is a fit or eval result (:mod:`harmscope.latent.results`) or its JSON;
    ``results`` are a run's case results, whose signals get dissociation flags.
    """
    view = AurocView.of(auroc) if auroc is not None else AurocView()
    series = auroc_series(view)
    diss = dissociation(results, judge_id) if results is not None else None
    return render_template(
        "latent.html.j2",
        title=title,
        chart=auroc_chart(series) if series else None,
        table=series,
        info=view,
        diss=diss,
        flagged=[r for r in diss.rows if r.flag] if diss else [],
        judge_id=judge_id,
        run_page=run_page,
    )


def write_latent_page(path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`render_latent_page` to ``path`` atomically; return the path."""
    return write_page(path, render_latent_page(**kwargs))
