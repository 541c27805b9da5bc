import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harmscope.errors import DataError, NotFoundError
from harmscope.records import Case
from harmscope.suites import Suite, load_suite, load_suite_file


def _write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_labelled_prompt_format(tmp_path):
    path = _write(
        tmp_path / "mine.jsonl",
        [
            {"text": "how do I bake bread", "label": "safe"},
            {"prompt": "some unsafe ask", "label": "unsafe", "category": "llamaguard3:S9"},
            {"text": "another", "label": "unsafe", "category": "privacy"},
        ],
    )
    suite = load_suite(str(path))
    assert [c.expected for c in suite.cases] == ["comply", "refuse", "refuse"]
    assert [c.category for c in suite.cases] == ["unspecified", "indiscriminate_weapons", "privacy"]
    assert suite.cases[0].source == "mine@file"


def test_case_format_with_messages(tmp_path):
    path = _write(
        tmp_path / "cases.jsonl",
        [
            {
                "id": "a",
                "messages": [
                    {"role": "system", "content": "be nice"},
                    {"role": "user", "content": "hi"},
                ],
                "category": "hate",
                "expected": "comply",
            }
        ],
    )
    case = load_suite_file(path).cases[0]
    assert case.prompt == "hi" and len(case.messages) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json\n", "cases.jsonl:1: invalid JSON"),
        ('{"text": "x", "label": "maybe"}\n', "label must be"),
        ('{"text": "x", "label": "safe", "category": "nonsense"}\n', "unknown category 'nonsense'"),
        ('{"text": "x", "label": "safe", "category": "llamaguard3:S77"}\n', "no harmscope mapping"),
        ("[1, 2]\n", "expected a JSON object"),
        ('{"id": "a", "prompt": "x", "category": "hate"}\n', "expected"),
        ('{"id": "a", "prompt": "x", "category": "hate", "expected": "refuse"}\n' * 2, "duplicate"),
        (
            '{"id": "a", "messages": [{"role": "assistant", "content": "x"}], "category": "hate", '
            '"expected": "refuse"}\n',
            "last message",
        ),
        ("\n\n", "no cases"),
    ],
)
def test_malformed_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "cases.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_suite_file(path)


def test_binary_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b"\xff\xfe\x00\x01garbage\x89PNG")
    with pytest.raises(DataError, match="not UTF-8"):
        load_suite_file(path)


def test_huge_line_is_refused(tmp_path):
    path = tmp_path / "huge.jsonl"
    path.write_text(json.dumps({"text": "x" * 1_100_000, "label": "safe"}) + "\n")
    with pytest.raises(DataError, match="longer than"):
        load_suite_file(path)


def test_unknown_suite_name():
    with pytest.raises(NotFoundError, match="did you mean core"):
        load_suite("cor")
    with pytest.raises(DataError, match="no such file"):
        load_suite("missing.jsonl")


def test_stratified_sample_is_proportional_and_deterministic():
    cases = []
    for cat, n in [("hate", 40), ("privacy", 20), ("self_harm", 4)]:
        for i in range(n):
            exp = "refuse" if i % 2 else "comply"
            cases.append(Case.from_prompt("x", id=f"{cat}{i}", category=cat, expected=exp))
    suite = Suite(name="s", version="1", cases=tuple(cases))
    sample = suite.sample(16, seed=1)
    assert len(sample.cases) == 16
    by = {}
    for c in sample.cases:
        by[(c.category, c.expected)] = by.get((c.category, c.expected), 0) + 1
    # 16 of 64: hate 10 (5+5), privacy 5 (2/3), self_harm 1 (+ rounding) -> each stratum >= 1
    assert by[("hate", "refuse")] + by[("hate", "comply")] in (9, 10)
    assert all(
        by.get((cat, e), 0) >= 1 for cat in ("hate", "privacy") for e in ("refuse", "comply")
    )
    assert [c.id for c in suite.sample(16, seed=1).cases] == [c.id for c in sample.cases]
    assert suite.sample(1000).cases == suite.cases


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "x", "label": "safe", "category": 7}\n', "category must be a string, not a num"),
        ('{"text": "x", "label": "safe", "category": ["hate"]}\n', "category must be a string"),
        ('{"text": "x", "label": "safe", "tags": ["a", "b"]}\n', "tags must be an object"),
        ('{"text": "x", "label": "safe", "tags": 3}\n', "tags must be an object"),
        ('{"text": "x", "label": "safe", "tags": {"k": {"n": 1}}}\n', "tag 'k' must be a string"),
        ('{"text": "x\\ud800y", "label": "safe"}\n', r"lone surrogate \(\\ud800\)"),
        ('{"text": "x", "label": "safe", "tags": {"\\udfff": "v"}}\n', "lone surrogate"),
        ('{"text": "x", "label": "safe", "deep": ' + "[" * 100_000 + "]" * 100_000 + "}\n", "deep"),
        ('{"text": 1' + "0" * 5000 + ', "label": "safe"}\n', "not usable JSON"),
        ('{"text": 5, "label": "safe"}\n', "'text' must be a non-empty string"),
        ('{"id": {}, "prompt": "x", "category": "hate", "expected": "refuse"}\n', "'id' must be"),
        ('{"id": "a", "messages": "hi", "category": "hate", "expected": "refuse"}\n', "array"),
    ],
)
def test_lines_of_the_wrong_shape_are_data_errors_naming_the_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    good = '{"text": "fine", "label": "safe"}\n'
    path.write_text(good + content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        load_suite_file(path)
    assert str(info.value).startswith(f"{path}:2: ") and "\n" not in str(info.value)


def test_scalar_tags_are_kept_as_strings(tmp_path):
    path = _write(
        tmp_path / "t.jsonl", [{"text": "x", "label": "safe", "tags": {"n": 2, "b": True}}]
    )
    assert load_suite_file(path).cases[0].tags == {"n": "2", "b": "true"}


# -- property: any JSON per line, any text: valid cases or a DataError naming file and line --

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_field_values = {
    "id": st.text(max_size=8) | st.integers() | _json,
    "text": st.text(max_size=20) | _json,
    "prompt": st.text(max_size=20) | _json,
    "label": st.sampled_from(["safe", "unsafe", "maybe"]) | _json,
    "category": st.sampled_from(["hate", "privacy", "llamaguard3:S9", "", "x:y"]) | _json,
    "expected": st.sampled_from(["refuse", "comply"]) | _json,
    "tags": st.dictionaries(st.text(max_size=5), st.text(max_size=5) | _json, max_size=3) | _json,
    "messages": st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "assistant", "system"]), "content": st.text()}
        )
        | _json,
        max_size=3,
    )
    | _json,
    "parent_id": st.none() | st.text(max_size=5) | _json,
}
_rows = st.fixed_dictionaries({}, optional=_field_values) | _json
# a raw line: JSON of a row, or any text at all (lone surrogates excluded only where the
# file cannot hold them: they are written as JSON escapes instead)
_lines = _rows.map(lambda r: json.dumps(r, allow_nan=True)) | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_lines, min_size=1, max_size=5))
def test_any_file_gives_cases_or_a_data_error_with_file_and_line(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("prop") / "any.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        suite = load_suite_file(path)
    except DataError as exc:
        msg = str(exc)
        assert msg.startswith(str(path)) and "\n" not in msg
        assert msg.startswith(f"{path}:") or msg.endswith(": no cases"), msg
        return
    for case in suite.cases:
        assert isinstance(case, Case) and case.id and case.category
        assert case.expected in ("refuse", "comply")
        case.model_dump_json().encode("utf-8")  # storable as UTF-8 (SQLite, JSON exports)
        assert all(isinstance(v, str) for v in case.tags.values())
