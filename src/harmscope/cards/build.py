"""Fill library cards with evidence from a stored run. Pure functions over results.

Evidence per card: the two rates with Wilson intervals, counts of errors and unscored
answers, the judge's measured error when known, the transforms that raise the card's rate
most, and a few failures from the run, redacted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harmscope.cards.library import Library, load_library
from harmscope.cards.model import (
    Evidence,
    JudgeError,
    RedactionOptions,
    RiskCard,
    RunExample,
    TransformEffect,
)
from harmscope.cards.redact import redact as redact_text
from harmscope.cards.scenario import Metric, Scenario, assess
from harmscope.metrics import CaseResult, CategoryMetrics, compute_metrics, outcome
from harmscope.transforms.effects import PLAIN, transform_of

if TYPE_CHECKING:
    from harmscope.runner.run import RunSummary

__all__ = [
    "PLAIN",
    "build_cards",
    "find_judge_error",
    "outcome",
    "select_examples",
    "transform_effects",
    "transform_of",
]


def _failed(result: CaseResult, judge_id: str | None, metric: Metric) -> int | None:
    """Rank of a failure for ``metric`` (0 worst), or ``None`` if the case did not fail."""
    o = outcome(result, judge_id)
    if metric == "unsafe_compliance" and result.case.expected == "refuse":
        return {"complied": 0, "partial": 1}.get(o)
    if metric == "over_refusal" and result.case.expected == "comply":
        return {"refused": 0, "partial": 1}.get(o)
    return None


def select_examples(
    results: Sequence[CaseResult],
    *,
    judge_id: str | None,
    metric: Metric,
    limit: int,
    redaction: RedactionOptions | None = None,
    redact: bool = True,
) -> tuple[RunExample, ...]:
    """Up to ``limit`` failures for ``metric``: full failures first, plain cases first."""
    ranked = [(rank, r) for r in results if (rank := _failed(r, judge_id, metric)) is not None]
    ranked.sort(key=lambda x: (x[0], transform_of(x[1]) != PLAIN, x[1].case.id))
    out = []
    for _, r in ranked[:limit]:
        text = r.response.text if r.response is not None and r.response.text else ""
        t = transform_of(r)
        out.append(
            RunExample(
                case_id=r.case.id,
                expected=r.case.expected,
                outcome=outcome(r, judge_id),
                prompt=redact_text(r.case.prompt, redaction, enabled=redact),
                output=redact_text(text, redaction, enabled=redact),
                transform=None if t == PLAIN else t,
            )
        )
    return tuple(out)


def _metric_rate(m: CategoryMetrics, metric: Metric) -> Any:
    return m.unsafe_compliance_rate if metric == "unsafe_compliance" else m.over_refusal_rate


def transform_effects(
    results: Sequence[CaseResult], *, judge_id: str | None, metric: Metric
) -> list[TransformEffect]:
    """One effect per transform other than plain, highest rate first.

    ``delta_vs_plain`` compares with the untransformed cases of the same results.
    """
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        groups[transform_of(r)].append(r)
    if set(groups) <= {PLAIN}:
        return []
    rates = {
        t: _metric_rate(compute_metrics(rs, judge_id=judge_id), metric) for t, rs in groups.items()
    }
    plain = rates.get(PLAIN)
    effects = []
    for t, r in rates.items():
        if t == PLAIN:
            continue
        delta = None
        if plain is not None and plain.value is not None and r.value is not None:
            delta = r.value - plain.value
        effects.append(TransformEffect(transform=t, metric=metric, rate=r, delta_vs_plain=delta))
    effects.sort(key=lambda e: (-(e.rate.value if e.rate.value is not None else -1), e.transform))
    return effects


def find_judge_error(summary: RunSummary) -> JudgeError | None:
    """The judge error stored with a summary, if any, for the card.

    ``None`` when the run has no measured error, or when the labelled data could not give
    both precision and recall.
    """
    raw = summary.judge_error
    if raw is None or raw.precision is None or raw.recall is None:
        return None
    return raw


def _evidence(
    summary: RunSummary,
    results: Sequence[CaseResult],
    *,
    metric: Metric,
    examples: int,
    redact: bool,
    judge_error: JudgeError | None,
    redaction: RedactionOptions,
) -> Evidence:
    judge_id = summary.metrics.judge_id
    m = compute_metrics(results, judge_id=judge_id)
    return Evidence(
        run_id=summary.run_id,
        target=summary.target,
        suite=summary.suite,
        judge_id=judge_id,
        unsafe_compliance=m.unsafe_compliance_rate,
        over_refusal=m.over_refusal_rate,
        cases=m.cases,
        errors=m.errors,
        unscored=m.unscored,
        judge_error=judge_error,
        worst_transforms=tuple(transform_effects(results, judge_id=judge_id, metric=metric)[:3]),
        examples=select_examples(
            results,
            judge_id=judge_id,
            metric=metric,
            limit=examples,
            redaction=redaction,
            redact=redact,
        ),
        redaction=redaction if redact else None,
    )


def _in(category: str, ids: Sequence[str]) -> bool:
    return any(category == c or category.startswith(c + ".") for c in ids)


def build_cards(
    summary: RunSummary,
    results: Sequence[CaseResult],
    *,
    scenario: Scenario | None = None,
    examples: int = 3,
    over_refusal_examples: int = 10,
    redact: bool = True,
    judge_error: JudgeError | None = None,
    redaction: RedactionOptions | None = None,
    library: Library | None = None,
    measured_only: bool = False,
) -> list[RiskCard]:
    """Library cards filled with a run's evidence and read against a scenario.

    For every category card: the card, then its paired over-refusal card; then the Weidinger
    risk cards (their evidence pools the categories they list, sub-categories included).

    Args:
        summary: The run's summary.
        results: The run's case results.
        scenario: Deployment to assess against (``assessment`` stays ``None`` without one).
        examples: Failures to show per harm card.
        over_refusal_examples: Refused safe cases to list on each over-refusal card (the
            cost in helpfulness is shown case by case, so it is listed more fully).
        redact: Redact examples (they are truncated either way).
        judge_error: The judge's measured error; defaults to one stored on the summary.
        redaction: Redaction settings (defaults when ``None``).
        library: Card library (the packaged one when ``None``).
        measured_only: Leave out cards with no case in the run.
    """
    lib = library or load_library()
    opts = redaction or RedactionOptions()
    jerr = judge_error if judge_error is not None else find_judge_error(summary)
    kw: dict[str, Any] = dict(redact=redact, judge_error=jerr, redaction=opts)
    by_cat: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        by_cat[r.case.category].append(r)

    def fill(card: RiskCard, rs: list[CaseResult], metric: Metric) -> RiskCard | None:
        if not rs and measured_only:
            return None
        limit = over_refusal_examples if metric == "over_refusal" else examples
        ev = _evidence(summary, rs, metric=metric, examples=limit, **kw) if rs else None
        rate = None if ev is None else getattr(ev, metric)
        update: dict[str, Any] = {"evidence": ev}
        if scenario is not None:
            cats = card.categorisation.harmscope
            update["assessment"] = assess(scenario, categories=cats, metric=metric, measured=rate)
        return card.model_copy(update=update)

    cards: list[RiskCard | None] = []
    for cid in lib.category_ids:
        rs = by_cat.get(cid, [])
        cards.append(fill(lib.category_card(cid), rs, "unsafe_compliance"))
        cards.append(fill(lib.over_refusal_card(cid), rs, "over_refusal"))
    for key in lib.risk_ids:
        cats = lib.risk_categories(key)
        rs = [r for r in results if cats and _in(r.case.category, cats)]
        cards.append(fill(lib.risk_card(key), rs, "unsafe_compliance"))
    return [c for c in cards if c is not None]
