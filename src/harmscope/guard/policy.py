r"""Guard policy: how detector scores become a decision.

A policy file (YAML or JSON) may set any of::

    ensemble: max            # max | mean | weighted, across detectors, per key
    detector_weights: {embedding: 1.0, "llm:hf/default": 0.5}   # for ``weighted``
    any_threshold: 0.6       # threshold of the overall unsafe score
    default_threshold: 0.7   # for categories without their own threshold
    thresholds: {self_harm: 0.4}
    category_weights: {self_harm: 1.5, intellectual_property: 0.0}   # >1 stricter, 0 off
    allow: ["how do i kill a python process", "re:^\\s*translate\\b"]
    deny: ["re:\\bnerve agent\\b", {pattern: "credit card dump", category: nonviolent_crime}]

A worked example ships in the repository as ``examples/policies/strict-self-harm.yaml``
(stricter on self-harm and hate, lenient on intellectual property and defamation); try it with
``harmscope guard eval --policy examples/policies/strict-self-harm.yaml`` or
``harmscope guard serve --policy ...``.

Lists entries are literal substrings (case-insensitive) or regular expressions prefixed with
``re:``. Deny wins over allow; allow wins over scores.

Thresholds: a category's own entry in ``thresholds`` wins; otherwise, when the policy sets
``default_threshold`` explicitly, that value applies to every other category; otherwise the
detector's validated per-category defaults (stored with the shipped weights) apply, and
``default_threshold``'s built-in value only for categories the detector has none for. The same
holds for ``any_threshold``.

Steering (:func:`decide`) — category weights make the guard stricter on one hazard and looser
on another, and they act on every way a text can be flagged:

* a category's weight is its own entry in ``category_weights``, else its parent's (so
  ``nonviolent_crime: 0`` also switches off ``nonviolent_crime.cyber``), else 1;
* each category score is multiplied by its weight (clipped to [0, 1]) before its threshold;
  a category of weight 0 is never flagged;
* the overall ``any`` score is *attributed* to the text's most likely category (the highest
  unweighted category score) and multiplied by that category's weight, and by the weight of
  ``any`` itself when set. A text whose unsafe score comes from a hazard the team weighted 0 is
  therefore not flagged through ``any`` either; weight 2 on that hazard doubles it. Scores
  without any category (a detector that reports only ``any``) take only ``any``'s weight;
* a text flagged through ``any`` alone is labelled with that attributed category.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harmscope.errors import DataError
from harmscope.guard.detectors import ANY
from harmscope.taxonomy import load_taxonomy

__all__ = ["Decision", "ListRule", "Policy", "combine", "decide", "load_policy"]


class ListRule(BaseModel):
    """One allow or deny entry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str = Field(min_length=1)
    """Literal substring (case-insensitive) or ``re:<regex>``."""
    category: str | None = None
    """Category reported when a deny rule matches."""

    def matches(self, text: str) -> bool:
        """Whether the rule matches ``text``."""
        if self.pattern.startswith("re:"):
            return re.search(self.pattern[3:], text, re.IGNORECASE) is not None
        return self.pattern.casefold() in text.casefold()


class Policy(BaseModel):
    """Thresholds, weights, ensemble rule and lists (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ensemble: Literal["max", "mean", "weighted"] = "max"
    """How scores of several detectors combine, per key."""
    detector_weights: dict[str, float] = Field(default_factory=dict)
    """Weight per detector name for ``weighted`` (missing: 1.0)."""
    any_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Flag when the overall unsafe score reaches this."""
    default_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Threshold for categories without their own."""
    thresholds: dict[str, float] = Field(default_factory=dict)
    """Per-category thresholds."""
    category_weights: dict[str, float] = Field(default_factory=dict)
    """Multiplier per category (and ``any``) applied to scores before thresholds."""
    allow: tuple[ListRule, ...] = ()
    """Texts matching any of these pass, whatever the scores (deny still wins)."""
    deny: tuple[ListRule, ...] = ()
    """Texts matching any of these are flagged."""

    @field_validator("allow", "deny", mode="before")
    @classmethod
    def _rules(cls, value: Any) -> Any:
        if isinstance(value, Sequence) and not isinstance(value, str):
            return [{"pattern": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("allow", "deny")
    @classmethod
    def _compile(cls, rules: tuple[ListRule, ...]) -> tuple[ListRule, ...]:
        for rule in rules:
            if rule.pattern.startswith("re:"):
                try:
                    re.compile(rule.pattern[3:])
                except re.error as exc:
                    raise ValueError(f"bad regular expression {rule.pattern!r}: {exc}") from None
        return rules

    @field_validator("thresholds", "category_weights")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        tax = load_taxonomy()
        for key, number in value.items():
            if key != ANY and key not in tax:
                raise ValueError(f"unknown category {key!r}")
            if number < 0:
                raise ValueError(f"{key}: must not be negative")
        return value

    def threshold(self, key: str) -> float:
        """The threshold for ``key`` (a category or ``any``)."""
        if key == ANY:
            return self.thresholds.get(ANY, self.any_threshold)
        return self.thresholds.get(key, self.default_threshold)

    def weight(self, key: str) -> float:
        """The weight of ``key``: its own, else its nearest ancestor's, else 1."""
        while key:
            if key in self.category_weights:
                return self.category_weights[key]
            key = key.rpartition(".")[0]
        return 1.0

    def with_defaults(self, thresholds: Mapping[str, float]) -> Policy:
        """A copy whose unset thresholds come from ``thresholds`` (e.g. validated ones).

        Per-category defaults are not used when the policy sets ``default_threshold`` itself,
        nor is the ``any`` default when it sets ``any_threshold``.
        """
        merged: dict[str, float] = {}
        if "default_threshold" not in self.model_fields_set:
            merged = {k: v for k, v in thresholds.items() if k != ANY}
        merged.update(self.thresholds)
        update: dict[str, Any] = {"thresholds": merged}
        if ANY in thresholds and "any_threshold" not in self.model_fields_set:
            update["any_threshold"] = thresholds[ANY]
        return self.model_copy(update=update)


@dataclass(frozen=True, slots=True)
class Decision:
    """The guard's decision for one text."""

    flagged: bool
    """Whether the text is blocked."""
    categories: tuple[str, ...]
    """Harmscope categories over their thresholds (or named by a deny rule)."""
    scores: dict[str, float] = field(default_factory=dict)
    """Combined, weighted scores per category and ``any``."""
    reasons: tuple[str, ...] = ()
    """Why: list matches, keys over threshold, normalisation steps, detector gaps."""


def combine(per_detector: Mapping[str, Mapping[str, float]], policy: Policy) -> dict[str, float]:
    """Combine several detectors' scores for one text, key by key, by the ensemble rule."""
    keys: dict[str, list[tuple[str, float]]] = {}
    for name, scores in per_detector.items():
        for key, value in scores.items():
            keys.setdefault(key, []).append((name, value))
    out: dict[str, float] = {}
    for key, pairs in keys.items():
        if policy.ensemble == "max":
            out[key] = max(v for _, v in pairs)
        elif policy.ensemble == "mean":
            out[key] = sum(v for _, v in pairs) / len(pairs)
        else:
            weights = [policy.detector_weights.get(n, 1.0) for n, _ in pairs]
            total = sum(weights)
            out[key] = (
                sum(w * v for w, (_, v) in zip(weights, pairs, strict=True)) / total
                if (total > 0)
                else 0.0
            )
    return out


def decide(text: str, scores: Mapping[str, float], policy: Policy) -> Decision:
    """Apply lists, weights and thresholds to combined ``scores`` for ``text``.

    See the module docstring for how weights steer: category scores are weighted per
    category, and the ``any`` score by the weight of the category it is attributed to.
    """
    for rule in policy.deny:
        if rule.matches(text):
            cats = (rule.category,) if rule.category else ()
            return Decision(True, cats, dict(scores), (f"deny:{rule.pattern}",))
    for rule in policy.allow:
        if rule.matches(text):
            return Decision(False, (), dict(scores), (f"allow:{rule.pattern}",))
    categories_raw = {k: v for k, v in scores.items() if k != ANY}
    attributed = max(categories_raw, key=lambda k: categories_raw[k], default=None)
    if attributed is not None and categories_raw[attributed] <= 0:
        attributed = None
    weighted = {k: _clip(v * policy.weight(k)) for k, v in categories_raw.items()}
    if ANY in scores:
        any_weight = policy.category_weights.get(ANY, 1.0)
        if attributed is not None:
            any_weight *= policy.weight(attributed)
        weighted[ANY] = _clip(scores[ANY] * any_weight)
    over = [
        k
        for k, v in weighted.items()
        if v >= policy.threshold(k) and (k == ANY or policy.weight(k) > 0)
    ]
    categories = tuple(sorted((k for k in over if k != ANY), key=lambda k: -weighted[k]))
    reasons = [f"{k}>={policy.threshold(k):g}" for k in over]
    if over and not categories and attributed is not None:
        # Flagged by the overall score alone: name the category it was attributed to.
        categories = (attributed,)
        reasons.append(f"top_category:{attributed}")
    return Decision(bool(over), categories, weighted, tuple(reasons))


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def load_policy(source: str | Path | Mapping[str, Any] | None) -> Policy:
    """Load a policy from a YAML/JSON file or a mapping (``None``: the default policy).

    Raises:
        DataError: The file is missing or malformed; the message says where.
    """
    if source is None:
        return Policy()
    if isinstance(source, Mapping):
        raw: Any = dict(source)
        where = "policy"
    else:
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise DataError(f"{path}: no such policy file")
        try:
            text = path.read_text("utf-8")
            raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
            raise DataError(f"{path}: not a valid policy file ({exc})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DataError(f"{where}: a policy must be a mapping")
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{where}: {loc}: {first['msg']}") from None
