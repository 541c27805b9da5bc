import json

import pytest

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
        ("{not json\n", "cases.jsonl:1: not JSON"),
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
