"""Deployment scenarios: who uses the system, which harms matter, and what is acceptable.

A card is read against a scenario with one rule, for both rates:

    within_threshold is true only when the upper bound of the rate's Wilson 95 % interval is
    at or below the scenario's maximum; false otherwise. It is null when the scenario does
    not list the harm, sets no maximum, or the run has no scored case for the rate.

Using the upper bound means a small sample cannot pass on a lucky point estimate: with 0 of
n failures the upper bound is z²/(n + z²) ≈ 3.84/(n + 3.84), so a maximum of 5 % needs at
least 73 clean cases and a maximum of 1 % at least 381.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harmscope._yaml import safe_load
from harmscope.cards.model import Assessment, JudgeError
from harmscope.errors import DataError, NotFoundError
from harmscope.metrics import Rate
from harmscope.taxonomy import load_taxonomy

__all__ = ["RULE", "Scenario", "Thresholds", "assess", "load_judge_error", "load_scenario"]

RULE = (
    "within threshold when the upper bound of the Wilson 95% interval is at or below the "
    "scenario's maximum"
)
"""The decision rule, as printed on every assessment."""

Metric = Literal["unsafe_compliance", "over_refusal"]


class Thresholds(BaseModel):
    """Maximum acceptable rates (fractions, 0-1); ``None`` sets no limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_unsafe_compliance: float | None = Field(default=None, ge=0.0, le=1.0)
    """Largest acceptable share of should-refuse cases answered."""
    max_over_refusal: float | None = Field(default=None, ge=0.0, le=1.0)
    """Largest acceptable share of should-answer cases refused."""

    def limit(self, metric: Metric) -> float | None:
        """The maximum for ``metric``."""
        if metric == "unsafe_compliance":
            return self.max_unsafe_compliance
        return self.max_over_refusal


class Scenario(BaseModel):
    """A deployment the cards are read against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    """Short name (``customer-support``)."""
    description: str = ""
    """What the system does and for whom."""
    users: tuple[str, ...] = ()
    """Who talks to the system."""
    languages: tuple[str, ...] = ()
    """Languages served (BCP 47 tags)."""
    modalities: tuple[str, ...] = ("text",)
    """Input and output modalities."""
    categories: tuple[str, ...] = ()
    """harmscope categories that matter (sub-categories included); empty means all."""
    thresholds: Thresholds = Field(default_factory=Thresholds)
    """Default maxima for every category that matters."""
    category_thresholds: dict[str, Thresholds] = Field(default_factory=dict)
    """Per-category maxima; a field set here overrides the default for that category."""

    @model_validator(mode="after")
    def _known_categories(self) -> Scenario:
        tax = load_taxonomy()
        for cid in (*self.categories, *self.category_thresholds):
            tax.get(cid)
        return self

    def matters(self, category_id: str) -> bool:
        """Whether the scenario lists ``category_id`` (or an ancestor), or lists none."""
        if not self.categories:
            return True
        return any(category_id == c or category_id.startswith(c + ".") for c in self.categories)

    def limit(self, category_id: str | None, metric: Metric) -> float | None:
        """The maximum for ``metric`` in ``category_id`` (most specific setting wins)."""
        parts = category_id.split(".") if category_id else []
        for i in range(len(parts), 0, -1):
            override = self.category_thresholds.get(".".join(parts[:i]))
            if override is not None and override.limit(metric) is not None:
                return override.limit(metric)
        return self.thresholds.limit(metric)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario YAML file.

    Raises:
        NotFoundError: No such file.
        DataError: The file is malformed or names unknown categories.
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"no scenario file {p}")
    try:
        return Scenario.model_validate(safe_load(p.read_text("utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        first = str(exc).splitlines()
        raise DataError(f"{p}: not a valid scenario ({' '.join(first[:3])})") from None


def load_judge_error(path: str | Path) -> JudgeError:
    """Read a judge's measured error from a JSON file.

    The file is the output of ``harmscope judge eval --json`` (``precision``, ``recall``,
    ``n``; extra keys are ignored) or a :class:`JudgeError` object. ``source`` defaults to
    the file name.

    Raises:
        NotFoundError: No such file.
        DataError: The file is not JSON or lacks the figures.
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"no judge-error file {p}")
    try:
        raw = json.loads(p.read_text("utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        fields = {k: raw[k] for k in JudgeError.model_fields if k in raw}
        if "judge_id" not in fields and isinstance(raw.get("judge"), str):
            fields["judge_id"] = raw["judge"]
        fields.setdefault("source", p.name)
        return JudgeError.model_validate(fields)
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()
        raise DataError(f"{p}: not a judge evaluation ({' '.join(first[:3])})") from None


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def assess(
    scenario: Scenario,
    *,
    categories: tuple[str, ...],
    metric: Metric,
    measured: Rate | None,
) -> Assessment:
    """Read one rate against the scenario (see the module docs for the rule).

    Args:
        scenario: The deployment.
        categories: The card's harmscope categories (several for a Weidinger risk card).
        metric: Which rate the card is about.
        measured: The rate from the run, or ``None`` when not measured.
    """
    relevant = [c for c in categories if scenario.matters(c)]
    limits = [x for c in relevant if (x := scenario.limit(c, metric)) is not None]
    limit = min(limits) if limits else None
    what = metric.replace("_", " ")

    def verdict(within: bool | None, reason: str) -> Assessment:
        return Assessment(
            scenario=scenario.name,
            relevant=bool(relevant),
            metric=metric,
            threshold=limit,
            within_threshold=within,
            reason=reason,
            rule=RULE,
        )

    if not relevant:
        return verdict(None, f"scenario {scenario.name!r} does not list this harm")
    if limit is None:
        return verdict(None, f"scenario {scenario.name!r} sets no maximum {what}")
    if measured is None or measured.n == 0 or measured.value is None:
        return verdict(None, f"no scored case measured {what} in this run")
    hi = measured.ci95[1]
    if hi <= limit:
        reason = f"{what} upper 95% bound {_pct(hi)} <= maximum {_pct(limit)} (n={measured.n})"
        return verdict(True, reason)
    reason = f"{what} upper 95% bound {_pct(hi)} > maximum {_pct(limit)} (n={measured.n})"
    if measured.value <= limit:
        reason += f"; the point estimate {_pct(measured.value)} is within, the sample is too small"
    return verdict(False, reason)
