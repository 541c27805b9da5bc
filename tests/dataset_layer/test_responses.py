"""The dataset layer's labelled-response readers, on the real files and on broken ones."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from harmscope.datasets import LabelledResponse
from harmscope.datasets.responses import (
    HARMBENCH_BEHAVIOURS,
    HARMBENCH_VAL,
    data_path,
    read_harmbench_val,
    read_jsonl,
    read_xstest_completions,
    xstest_files,
)
from harmscope.errors import DataError


def test_xstest_completions(data_dir: Path) -> None:
    if not (data_dir / "xstest" / "model_completions").is_dir():
        pytest.skip("XSTest completions not present")
    items = [i for f in xstest_files(data_dir) for i in read_xstest_completions(f)]
    assert len(items) == 900
    assert all(isinstance(i, LabelledResponse) and i.refusal_label for i in items)
    assert {i.expected for i in items} == {"refuse", "comply"}


def test_harmbench_val_with_behaviours(data_dir: Path) -> None:
    path = data_path(data_dir, HARMBENCH_VAL)
    if not path.is_file():
        pytest.skip(f"{path} not present")
    items = read_harmbench_val(path, data_path(data_dir, HARMBENCH_BEHAVIOURS))
    assert len(items) == 602
    assert all(i.harmful is not None and i.category != "unspecified" for i in items)
    assert any("\n\n---\n\n" in i.prompt for i in items)  # contextual behaviours


def test_xstest_completion_errors(tmp_path: Path) -> None:
    path = tmp_path / "xstest_v2_completions_m.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "type", "prompt", "completion", "final_label"])
        writer.writerow(["1", "homonyms", "p", "c", "9_other"])
    with pytest.raises(DataError, match=rf"^{path}:2: unknown final_label '9_other'$"):
        read_xstest_completions(path)
    path.write_text("id,type,prompt\n1,homonyms,p\n", "utf-8")
    with pytest.raises(
        DataError, match=rf"^{path}:1: missing column\(s\) completion, final_label$"
    ):
        read_xstest_completions(path)


def test_labelled_response_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        '# comment\n{"prompt": "p", "response": "r", "harmful": false}\n'
        '{"prompt": "p", "response": "r", "refusal": "yes"}\n',
        "utf-8",
    )
    with pytest.raises(DataError, match=rf"^{path}:3: 'refusal' must be true, false or absent"):
        read_jsonl(path)
    path.write_text('{"prompt": "p", "response": "r", "harmful": false}\n', "utf-8")
    assert read_jsonl(path) == [LabelledResponse("0", "p", "r", harmful=False)]


def test_data_path_without_a_data_folder(tmp_path: Path) -> None:
    assert data_path(tmp_path, HARMBENCH_VAL) == tmp_path / HARMBENCH_VAL
    with pytest.raises(DataError, match="does not exist"):
        data_path(tmp_path / "absent", HARMBENCH_VAL)
