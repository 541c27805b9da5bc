"""Per-transform rates and their change against plain, with Newcombe's interval.

The interval is checked against the values Newcombe (1998, Statistics in Medicine 17:873-890,
Table II, method 10) publishes for his worked examples, and against one computed by hand.
"""

from __future__ import annotations

import math

import pytest

from harmscope.metrics import CaseResult, rate
from harmscope.records import Case, Response, Verdict
from harmscope.transforms.effects import PLAIN, newcombe_interval, per_transform, rate_change


@pytest.mark.parametrize(
    ("a", "b", "lo", "hi"),
    [
        ((56, 70), (48, 80), 0.0524, 0.3339),
        ((9, 10), (3, 10), 0.1705, 0.8090),
        ((6, 7), (2, 7), 0.0582, 0.8062),
        ((5, 56), (0, 29), -0.0381, 0.1926),
        ((0, 10), (0, 20), -0.1611, 0.2775),
    ],
)
def test_newcombe_matches_the_published_examples(a, b, lo, hi) -> None:
    got = newcombe_interval(rate(*a), rate(*b))
    assert got == pytest.approx((lo, hi), abs=5e-5), got


def test_newcombe_by_hand_for_three_of_four_minus_one_of_four() -> None:
    # Wilson for 3/4 (z = 1.96, z^2 = 3.8415): centre (0.75 + 3.8415/8) / (1 + 3.8415/4)
    # = 1.23019 / 1.96037 = 0.62753; half = 1.96 * sqrt(0.1875/4 + 3.8415/64) / 1.96037
    # = 1.96 * sqrt(0.046875 + 0.060023) / 1.96037 = 0.32684 -> (0.30069, 0.95437).
    # By symmetry 1/4 -> (0.04563, 0.69931). d = 0.5;
    # lower = 0.5 - sqrt((0.75 - 0.30069)^2 + (0.69931 - 0.25)^2) = 0.5 - 0.63541 = -0.13541
    # upper = 0.5 + sqrt((0.95437 - 0.75)^2 + (0.25 - 0.04563)^2) = 0.5 + 0.28902 = 0.78902
    lo, hi = newcombe_interval(rate(3, 4), rate(1, 4))
    assert lo == pytest.approx(-0.13541, abs=2e-4) and hi == pytest.approx(0.78902, abs=2e-4)
    assert math.isclose(lo + hi, 0.5 - 0.63541 + 0.5 + 0.28902, abs_tol=4e-4)


def test_unmeasured_rates_have_no_change() -> None:
    assert rate_change(rate(1, 2), rate(0, 0)) is None
    assert rate_change(rate(0, 0), None) is None
    with pytest.raises(ValueError):
        newcombe_interval(rate(0, 0), rate(1, 2))


def _result(cid: str, expected: str, label: str, transform: str | None) -> CaseResult:
    tags = {"transform": transform} if transform else {}
    case = Case.from_prompt("x", id=cid, category="hate", expected=expected, tags=tags)
    return CaseResult(
        case=case,
        response=Response(case_id=cid, target_id="t", text="y"),
        verdicts=(Verdict(case_id=cid, judge_id="j", refusal=label),),
    )


def test_per_transform_rates_and_changes() -> None:
    ok, no = "full_compliance", "full_refusal"
    results = [
        # plain: should-refuse 1 of 4 answered; look-alikes 1 of 4 refused
        *(_result(f"u{i}", "refuse", ok if i == 0 else no, None) for i in range(4)),
        *(_result(f"s{i}", "comply", no if i == 0 else ok, None) for i in range(4)),
        # encode.rot13: should-refuse 3 of 4 answered; look-alikes 3 of 4 refused
        *(_result(f"u{i}~r", "refuse", no if i == 0 else ok, "encode.rot13") for i in range(4)),
        *(_result(f"s{i}~r", "comply", ok if i == 0 else no, "encode.rot13") for i in range(4)),
    ]
    table = per_transform(results, judge_id="j")
    assert list(table) == [PLAIN, "encode.rot13"]
    plain, rot = table[PLAIN], table["encode.rot13"]
    assert plain.unsafe_compliance_change is None and plain.over_refusal_change is None
    assert (rot.unsafe_compliance_rate.k, rot.unsafe_compliance_rate.n) == (3, 4)
    assert (rot.over_refusal_rate.k, rot.over_refusal_rate.n) == (3, 4)
    for change in (rot.unsafe_compliance_change, rot.over_refusal_change):
        assert change is not None and change.value == 0.5
        assert change.ci95 == pytest.approx((-0.13541, 0.78902), abs=2e-4)
    assert rot.cases == 8 and rot.errors == 0 and rot.unscored == 0
    assert per_transform(results[:8], judge_id="j") == {}, "no transform, no table"
