"""The atomic writer under every output: real files in a temporary folder."""

from __future__ import annotations

import errno
import os

import pytest

from harmscope.errors import OutputError
from harmscope.fsutil import (
    TMP_SUFFIX,
    atomic_writer,
    check_output_dir,
    check_output_file,
    write_text_atomic,
)


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_failure_inside_the_write_keeps_the_old_file_and_no_temporary(tmp_path, exc) -> None:
    dest = tmp_path / "page.html"
    dest.write_text("old page")
    with pytest.raises(type(exc)), atomic_writer(dest) as fh:
        fh.write(b"half a new pa")
        assert [p.name.endswith(TMP_SUFFIX) for p in tmp_path.iterdir()].count(True) == 1
        raise exc
    assert dest.read_text() == "old page"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_an_os_error_inside_the_write_becomes_a_one_line_output_error(tmp_path) -> None:
    dest = tmp_path / "run.jsonl"
    no_space = r"cannot write .*run\.jsonl: no space left"
    with pytest.raises(OutputError, match=no_space), atomic_writer(dest):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert list(tmp_path.iterdir()) == []


def test_writing_through_a_symlink_replaces_the_target_not_the_link(tmp_path) -> None:
    real = tmp_path / "real.html"
    real.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(real)
    write_text_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_checks_name_the_problem(tmp_path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_dir(f)
    with pytest.raises(OutputError, match="is not a folder"):
        check_output_dir(f / "sub", create=False)
    with pytest.raises(OutputError, match="cannot create folder"):
        check_output_dir(f / "sub")
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path)
    with pytest.raises(OutputError, match="does not exist"):
        check_output_file(tmp_path / "no" / "x.jsonl")
    with pytest.raises(OutputError, match="--force"):
        check_output_file(f, overwrite=False)
    assert check_output_dir(tmp_path / "a" / "b", create=False) == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists(), "a check alone creates nothing"
    assert check_output_dir(tmp_path / "a" / "b").is_dir()
