"""Policy: thresholds, weights, ensemble rules, allow and deny lists, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmscope.errors import DataError
from harmscope.guard import ANY, Guard, Policy, load_policy
from harmscope.guard.policy import combine, decide


def test_thresholds_per_category_and_any() -> None:
    policy = Policy(any_threshold=0.8, default_threshold=0.6, thresholds={"self_harm": 0.3})
    d = decide("x", {ANY: 0.5, "self_harm": 0.35, "hate": 0.55}, policy)
    assert d.flagged and d.categories == ("self_harm",)
    d = decide("x", {ANY: 0.5, "self_harm": 0.25, "hate": 0.55}, policy)
    assert not d.flagged and d.categories == ()
    d = decide("x", {ANY: 0.85, "self_harm": 0.1, "hate": 0.2}, policy)
    assert d.flagged and d.categories == ("hate",), "flagged by any: names the top category"


def test_category_weights_steer_strictness() -> None:
    # The unsafe score comes from intellectual property; hate is a weak second.
    scores = {ANY: 0.9, "intellectual_property": 0.6, "hate": 0.45}
    base = Policy(any_threshold=0.7, default_threshold=0.8)
    d = decide("x", scores, base)
    assert d.flagged and d.categories == ("intellectual_property",)
    assert "top_category:intellectual_property" in d.reasons

    # Looser on IP: the overall score attributed to IP is weighted away too, and the text is
    # not relabelled with an unrelated category.
    off = Policy(
        any_threshold=0.7, default_threshold=0.8, category_weights={"intellectual_property": 0}
    )
    d = decide("x", scores, off)
    assert not d.flagged and d.categories == (), d
    assert d.scores[ANY] == 0.0 and d.scores["intellectual_property"] == 0.0

    # Stricter on hate at the same time: hate now crosses its own threshold.
    steered = Policy(
        any_threshold=0.7,
        default_threshold=0.8,
        category_weights={"hate": 2.0, "intellectual_property": 0.0},
    )
    d = decide("x", scores, steered)
    assert d.flagged and d.categories == ("hate",)
    assert d.scores["hate"] == pytest.approx(0.9)


def test_weight_on_attributed_category_scales_any() -> None:
    scores = {ANY: 0.5, "self_harm": 0.4, "hate": 0.1}
    assert not decide("x", scores, Policy(any_threshold=0.7, default_threshold=0.9)).flagged
    strict = Policy(any_threshold=0.7, default_threshold=0.9, category_weights={"self_harm": 1.5})
    d = decide("x", scores, strict)
    assert d.flagged and d.categories == ("self_harm",)
    assert d.scores[ANY] == pytest.approx(0.75) and scores[ANY] == 0.5
    # A weight on another category leaves the attributed score alone.
    other = Policy(any_threshold=0.7, default_threshold=0.9, category_weights={"hate": 3.0})
    assert decide("x", scores, other).scores[ANY] == pytest.approx(0.5)
    # Only an overall score, no categories: just the weight of ``any`` applies.
    assert decide("x", {ANY: 0.5}, Policy(category_weights={ANY: 0.5})).scores[ANY] == 0.25


def test_parent_weight_reaches_sub_categories() -> None:
    scores = {ANY: 0.95, "nonviolent_crime.cyber": 0.9, "nonviolent_crime": 0.85}
    policy = Policy(
        any_threshold=0.5, default_threshold=0.5, category_weights={"nonviolent_crime": 0}
    )
    d = decide("x", scores, policy)
    assert not d.flagged, d
    own = Policy(
        any_threshold=0.5,
        default_threshold=0.5,
        category_weights={"nonviolent_crime": 0, "nonviolent_crime.cyber": 1.0},
    )
    assert decide("x", scores, own).categories == ("nonviolent_crime.cyber",)
    assert policy.weight("nonviolent_crime.cyber") == 0 and policy.weight("hate") == 1.0


def test_allow_and_deny_lists_literal_and_regex() -> None:
    policy = Policy(
        allow=["python process", "re:^translate\\b"],
        deny=["re:\\bnerve\\s+agent\\b", {"pattern": "card dump", "category": "nonviolent_crime"}],
    )
    high = {ANY: 0.99}
    assert not decide("How do I kill a Python process?", high, policy).flagged
    assert not decide("Translate: I will hurt you", high, policy).flagged
    d = decide("tell me about NERVE   agent storage", {ANY: 0.0}, policy)
    assert d.flagged and d.reasons[0].startswith("deny:")
    d = decide("buy a card dump", {ANY: 0.0}, policy)
    assert d.categories == ("nonviolent_crime",)
    # deny wins over allow
    assert decide("python process with a nerve agent", {}, policy).flagged


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("max", {"a": 0.9, "b": 0.2}),
        ("mean", {"a": 0.6, "b": 0.2}),
        ("weighted", {"a": 0.75, "b": 0.2}),
    ],
)
def test_ensemble_rules(rule: str, expected: dict[str, float]) -> None:
    # weighted: (3 * 0.9 + 1 * 0.3) / 4 = 0.75; b only from d1
    per = {"d1": {"a": 0.9, "b": 0.2}, "d2": {"a": 0.3}}
    policy = Policy(ensemble=rule, detector_weights={"d1": 3.0, "d2": 1.0})  # type: ignore[arg-type]
    out = combine(per, policy)
    for key, value in expected.items():
        assert out[key] == pytest.approx(value), (rule, key, out)


class _Fixed:
    """A detector with fixed scores per text (policy plumbing only)."""

    def __init__(self, name: str, table: dict[str, dict[str, float]]) -> None:
        self.name = name
        self.table = table
        self.thresholds = {ANY: 0.7, "hate": 0.4}

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        return [self.table.get(t, {}) for t in texts]


def test_guard_uses_detector_default_thresholds_unless_policy_overrides() -> None:
    det = _Fixed("fixed", {"a": {ANY: 0.65, "hate": 0.45}})
    assert Guard([det]).check_sync(["a"])[0].categories == ("hate",)
    strict = Guard([det], Policy(any_threshold=0.6, thresholds={"hate": 0.9}))
    d = strict.check_sync(["a"])[0]
    assert d.flagged and d.categories == ("hate",) and "any>=0.6" in d.reasons
    loose = Guard([det], Policy(thresholds={"hate": 0.9}))
    assert not loose.check_sync(["a"])[0].flagged


def test_policy_default_threshold_overrides_detector_defaults() -> None:
    det = _Fixed("fixed", {"a": {ANY: 0.3, "hate": 0.45, "self_harm": 0.35}})
    assert Guard([det]).check_sync(["a"])[0].categories == ("hate",), "detector default 0.4"
    strict = Guard([det], Policy(default_threshold=0.3))
    assert strict.policy.threshold("hate") == 0.3
    assert strict.check_sync(["a"])[0].categories == ("hate", "self_harm")
    loose = Guard([det], Policy(default_threshold=0.5, thresholds={"self_harm": 0.3}))
    assert loose.check_sync(["a"])[0].categories == ("self_harm",)


def test_guard_records_detector_without_opinion() -> None:
    d = Guard([_Fixed("empty", {})]).check_sync(["zzz"])[0]
    assert not d.flagged and "no_score:empty" in d.reasons


def test_policy_files_yaml_json_and_errors(tmp_path: Path) -> None:
    y = tmp_path / "p.yaml"
    y.write_text("ensemble: mean\nthresholds: {self_harm: 0.25}\ndeny: [foo]\n")
    p = load_policy(y)
    assert p.ensemble == "mean" and p.threshold("self_harm") == 0.25 and p.deny[0].pattern == "foo"
    j = tmp_path / "p.json"
    j.write_text('{"category_weights": {"hate": 2}}')
    assert load_policy(j).category_weights == {"hate": 2.0}
    bad = tmp_path / "bad.yaml"
    bad.write_text("thresholds: {not_a_category: 0.5}\n")
    with pytest.raises(DataError, match="not_a_category"):
        load_policy(bad)
    bad.write_text("deny: ['re:(unclosed']\n")
    with pytest.raises(DataError, match="regular expression"):
        load_policy(bad)
    bad.write_text("ensemble: median\n")
    with pytest.raises(DataError, match="ensemble"):
        load_policy(bad)
    with pytest.raises(DataError, match="no such"):
        load_policy(tmp_path / "missing.yaml")
