"""The one labelled-prompt JSON Lines parser and its one error style."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harmscope.datasets import (
    LabelledPrompt,
    labelled_prompts_or_none,
    parse_labelled_prompt,
    read_labelled_prompts,
)
from harmscope.datasets.labelled import is_labelled_prompt, json_kind
from harmscope.errors import DataError
from harmscope.guard.data import load_labelled_file
from harmscope.latent.prompts import load_prompts
from harmscope.suites.files import load_suite_file


def _file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_reads_text_or_prompt_label_and_category(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        '{"text": "a", "label": "safe"}',
        "",
        '{"prompt": "b", "label": "unsafe", "category": "hate"}',
    )
    rows = read_labelled_prompts(path, source="mine")
    assert rows == [
        LabelledPrompt("a", "safe", None, "mine"),
        LabelledPrompt("b", "unsafe", "hate", "mine"),
    ]
    assert [r.unsafe for r in rows] == [False, True]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "a", "label": "maybe"}', "label must be 'safe' or 'unsafe', not 'maybe'"),
        ('{"text": "a"}', "label must be 'safe' or 'unsafe', not None"),
        ('{"text": 3, "label": "safe"}', "'text' must be a non-empty string, not a number"),
        ('{"prompt": " ", "label": "safe"}', "'prompt' must be a non-empty string, not a string"),
        (
            '{"text": "a", "label": "safe", "category": [1]}',
            "category must be a string, not an array",
        ),
        ('{"text": "x \\ud800", "label": "safe"}', r"line holds a lone surrogate \(\\ud800\)"),
        ("{broken", r"invalid JSON \("),
    ],
)
def test_one_error_style_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = _file(tmp_path, '{"text": "ok", "label": "safe"}', "", line)
    with pytest.raises(DataError, match=rf"^{path}:3: {message}"):
        read_labelled_prompts(path)


@pytest.mark.parametrize(
    "reader",
    [load_labelled_file, lambda p: load_prompts(str(p)), load_suite_file],
    ids=["guard", "latent", "suite"],
)
def test_every_consumer_gives_the_same_message(tmp_path: Path, reader) -> None:
    path = _file(tmp_path, '{"text": "ok", "label": "safe"}', '{"text": "a", "label": "maybe"}')
    with pytest.raises(DataError) as err:
        reader(path)
    assert str(err.value) == f"{path}:2: label must be 'safe' or 'unsafe', not 'maybe'"


def test_empty_file_and_case_lines(tmp_path: Path) -> None:
    empty = _file(tmp_path, "")
    with pytest.raises(DataError, match=rf"^{empty}: no labelled rows$"):
        read_labelled_prompts(empty)
    cases = tmp_path / "cases.jsonl"
    case = {"id": "c1", "prompt": "hi", "category": "hate", "expected": "refuse"}
    cases.write_text(json.dumps(case) + "\n", "utf-8")
    assert labelled_prompts_or_none(cases) is None
    with pytest.raises(DataError, match=rf"^{cases}:1: label must be"):
        read_labelled_prompts(cases)


def test_parse_one_object() -> None:
    row = {"text": "hi", "label": "unsafe", "category": "hate"}
    assert is_labelled_prompt(row) and not is_labelled_prompt({"prompt": "hi"})
    assert parse_labelled_prompt(row, "f:1", "s") == LabelledPrompt("hi", "unsafe", "hate", "s")
    assert [json_kind(v) for v in (None, True, 1.5, "x", [], {})] == [
        "null",
        "a boolean",
        "a number",
        "a string",
        "an array",
        "an object",
    ]
