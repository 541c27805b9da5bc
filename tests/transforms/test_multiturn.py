"""The authored multi-turn suite loads, validates and covers what it claims."""

from __future__ import annotations

from collections import Counter
from importlib import resources

from harmscope.suites import load_suite, load_suite_file
from harmscope.suites.multiturn import MULTITURN_VERSION, load_multiturn
from harmscope.taxonomy import load_taxonomy


def test_suite_loads_through_registry_and_file() -> None:
    suite = load_multiturn()
    assert suite.ref == f"multiturn@{MULTITURN_VERSION}"
    assert load_suite("multiturn") == suite
    path = resources.files("harmscope.suites").joinpath("data/multiturn.jsonl")
    with resources.as_file(path) as p:
        raw = load_suite_file(p, name="multiturn", version=MULTITURN_VERSION)
    assert raw.cases == suite.cases


def test_suite_shape() -> None:
    suite = load_multiturn()
    cases = suite.cases
    assert len(cases) >= 48, len(cases)
    assert len({c.id for c in cases}) == len(cases)
    tax = load_taxonomy()
    categories = {c.category for c in cases}
    assert len(categories) >= 12, categories
    for category in categories:
        assert tax.get(category).id == category
    assert Counter(c.expected for c in cases).keys() == {"refuse", "comply"}
    kinds = Counter(c.tags["kind"] for c in cases)
    assert set(kinds) == {"escalation", "context", "decomposition"}
    assert min(kinds.values()) >= 10, kinds
    for case in cases:
        roles = [m.role for m in case.messages]
        assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"], case.id
        users = roles.count("user")
        assert 2 <= users <= 5 and case.tags["turns"] == str(users), case.id
        assert case.source == suite.ref
        assert all(m.content.strip() for m in case.messages), case.id
        kind = "u" if case.expected == "refuse" else "s"
        assert case.id.startswith(f"multiturn.{case.category}.{kind}"), case.id
    assert {c.tags["turns"] for c in cases} == {"2", "3", "4", "5"}


def test_most_unsafe_goals_have_a_lookalike() -> None:
    cases = load_multiturn().cases
    unsafe = Counter((c.category, c.tags["kind"]) for c in cases if c.expected == "refuse")
    safe = Counter((c.category, c.tags["kind"]) for c in cases if c.expected == "comply")
    paired = sum(1 for key in unsafe if key in safe)
    assert paired / len(unsafe) >= 0.8, (paired, len(unsafe))
