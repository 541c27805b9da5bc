"""Every reader of a labelled JSON Lines file turns hostile lines into a DataError naming the
line: lone surrogates, deep nesting, non-objects, bad JSON (and the CLI prints it in one line)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harmscope.attacks.run import read_paths as _read_paths
from harmscope.datasets import json_problem, load_json_line
from harmscope.errors import DataError
from harmscope.guard.data import load_labelled_file
from harmscope.judges.labelled import read_jsonl
from harmscope.latent.prompts import load_prompts
from harmscope.latent.sweep import load_mc
from harmscope.suites.files import load_suite_file

PROMPT_OK = '{"text": "hello", "label": "safe"}'
PATH_OK = '{"case_id": "c1", "tries": 2}'
MC_OK = '{"id": "q", "question": "2 + 2?", "choices": ["3", "4"], "answer": 1}'
RESPONSE_OK = '{"prompt": "hi", "response": "I can\'t help.", "refusal": true}'
DEEP = '{"text": "x", "label": "safe", "extra": ' + "[" * 5000 + "]" * 5000 + "}"

HOSTILE = [
    ('{"text": "x \\ud800 y", "label": "unsafe"}', r"lone surrogate \(\\ud800\)"),
    ('{"text": "x", "label": "safe", "\\udfff": 1}', "lone surrogate"),
    (DEEP, "nested"),
    ("[1, 2]", "expected a JSON object"),
    ("{broken", "invalid JSON"),
]


def test_json_problem_by_hand() -> None:
    assert json_problem({"a": ["b", {"c": "d"}]}) is None
    assert json_problem({"a": "\U0001f600"}) is None  # an escaped pair is one ordinary character
    assert json_problem([[[1]]], max_depth=2) == "request body is nested deeper than 2 levels"
    assert "surrogate (\\udc00)" in (json_problem(["ok", "\udc00"], what="line") or "")


@pytest.mark.parametrize(("line", "message"), HOSTILE)
def test_load_json_line_names_the_line(line: str, message: str) -> None:
    with pytest.raises(DataError, match=rf"^f\.jsonl:3: .*{message}"):
        load_json_line(line, "f.jsonl:3")


@pytest.mark.parametrize(
    ("reader", "good"),
    [
        (load_labelled_file, PROMPT_OK),
        (read_jsonl, RESPONSE_OK),
        (lambda p: load_prompts(str(p)), PROMPT_OK),
        (load_suite_file, PROMPT_OK),
        (_read_paths, PATH_OK),
        (load_mc, MC_OK),
    ],
    ids=["guard", "judge", "latent", "suite", "attack-paths", "mc"],
)
@pytest.mark.parametrize(("line", "message"), HOSTILE)
def test_every_reader_refuses_a_hostile_line(tmp_path, reader, good, line, message) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(f"{good}\n{line}\n", "utf-8")
    where = "multiple-choice line 2" if reader is load_mc else r"data\.jsonl:2"
    with pytest.raises(DataError, match=rf"{where}: .*{message}"):
        reader(path)


@pytest.mark.parametrize("command", [["guard", "eval"], ["judge", "eval", "--judge", "keyword"]])
def test_eval_commands_print_one_line_for_a_surrogate(tmp_path: Path, command) -> None:
    good = PROMPT_OK if command[0] == "guard" else RESPONSE_OK
    path = tmp_path / "data.jsonl"
    path.write_text(
        f"{good}\n" + '{"text": "x \\ud800", "prompt": "x \\ud800", "label": '
        '"safe", "response": "y", "refusal": true}\n',
        "utf-8",
    )
    p = subprocess.run(
        [sys.executable, "-m", "harmscope.cli", *command, "--data", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error:") and "data.jsonl:2" in lines[-1], p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize(
    "reader",
    [load_labelled_file, read_jsonl, lambda p: load_prompts(str(p)), load_suite_file, _read_paths,
     load_mc],
    ids=["guard", "judge", "latent", "suite", "attack-paths", "mc"],
)  # fmt: skip
def test_every_reader_refuses_a_binary_file(tmp_path, reader) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(PROMPT_OK.encode() + b"\n\xd2\x81\xff\x00 binary\n")
    with pytest.raises(DataError, match=r"data\.jsonl: not UTF-8 text"):
        reader(path)
