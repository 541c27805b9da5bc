"""The dataset layer's CSV reader: rows with the ``file:line`` of their first line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmscope.datasets import read_csv
from harmscope.errors import DataError


def test_rows_carry_the_line_they_start_on(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('a,b\n1,"two\nlines"\n3,4\n', "utf-8")
    rows = list(read_csv(path, ("a",)))
    assert rows == [
        ({"a": "1", "b": "two\nlines"}, f"{path}:2"),
        ({"a": "3", "b": "4"}, f"{path}:4"),
    ]


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with pytest.raises(DataError, match=rf"^{path}: no such file$"):
        list(read_csv(path, ()))
    path.write_text("a,b\n1\n", "utf-8")
    with pytest.raises(DataError, match=rf"^{path}:2: expected 2 fields$"):
        list(read_csv(path, ("a",)))
    with pytest.raises(DataError, match=rf"^{path}:1: missing column\(s\) c, d$"):
        list(read_csv(path, ("a", "c", "d")))
