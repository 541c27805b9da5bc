"""``harmscope export``: atomic under SIGKILL, and bad destinations fail in one line.

A real ``harmscope export`` process reads a real SQLite store of a few thousand long cases
and is SIGKILLed at seeded random points, several of them inside the write; after every kill
the destination is absent or a complete file, and the next export cleans up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.store.killwrite import (
    assert_kills_leave_old_or_none,
    bulk_store_fixture,
    one_line_error,
    run_cli,
    unwritable_folder,
)

from harmscope.fsutil import TMP_SUFFIX

N = 6000


bulk = bulk_store_fixture(N)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


def _jsonl_complete(path: Path) -> None:
    lines = path.read_text("utf-8").splitlines()
    assert len(lines) == N, f"{len(lines)} of {N} rows"
    rows = [json.loads(line) for line in lines]
    assert rows[-1]["case"]["id"] == f"c{N - 1:05d}"


def _parquet_complete(path: Path) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    assert table.num_rows == N
    assert table.column("case_id")[N - 1].as_py() == f"c{N - 1:05d}"


@pytest.mark.parametrize(
    ("name", "complete"), [("run.jsonl", _jsonl_complete), ("run.parquet", _parquet_complete)]
)
def test_sigkilled_export_leaves_the_old_file_or_none(bulk, out, name, complete) -> None:
    db, _ = bulk
    dest = out / name
    args = ["export", "latest", "--db", str(db), "-o", str(dest)]
    mid_write = assert_kills_leave_old_or_none(args, out.parent, out, dest, complete, seed=11)
    assert mid_write >= 1, "at least one kill landed inside the write"


def test_export_removes_only_temporaries_of_dead_processes(bulk, out) -> None:
    db, _ = bulk
    dest = out / "run.jsonl"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = out / f".run.jsonl.{int(gone.stdout)}.0badc0de{TMP_SUFFIX}"
    alive = out / f".run.jsonl.{os.getpid()}.0badc0de{TMP_SUFFIX}"
    other = out / f".other.jsonl.{int(gone.stdout)}.0badc0de{TMP_SUFFIX}"
    for p in (dead, alive, other):
        p.write_text("partial")
    done = run_cli(["export", "latest", "--db", str(db), "-o", str(dest)], out.parent)
    assert done.returncode == 0, done.stderr
    _jsonl_complete(dest)
    assert not dead.exists(), "a killed export's temporary is removed"
    assert alive.exists(), "a live process's temporary is kept"
    assert other.exists(), "only temporaries of the file being written are touched"


@pytest.mark.parametrize("where", ["missing", "unwritable", "folder", "under-a-file"])
def test_export_to_a_bad_destination_is_a_one_line_error(bulk, tmp_path, where) -> None:
    db, _ = bulk
    before = db.stat().st_mtime_ns, db.stat().st_size
    (tmp_path / "plain.txt").write_text("x")
    dest = {
        "missing": tmp_path / "no" / "such" / "run.jsonl",
        "unwritable": unwritable_folder(tmp_path) / "run.jsonl",
        "folder": tmp_path,
        "under-a-file": tmp_path / "plain.txt" / "run.parquet",
    }[where]
    if where == "folder":
        dest = tmp_path / "a.jsonl"
        dest.mkdir()
    r = run_cli(["export", "latest", "--db", str(db), "-o", str(dest)], tmp_path)
    one_line_error(r, str(dest))
    assert not (tmp_path / "no").exists(), "no folder is created for an export"
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before, "the store is untouched"


def test_export_with_an_unknown_extension_fails_before_reading(bulk, tmp_path) -> None:
    db, _ = bulk
    r = run_cli(["export", "latest", "--db", str(db), "-o", str(tmp_path / "run.csv")], tmp_path)
    one_line_error(r, ".jsonl or .parquet")
    assert list(tmp_path.iterdir()) == []


def test_export_run_replaces_the_previous_file_in_one_step(bulk, out) -> None:
    from harmscope.store import SQLiteStore, export_run

    db, run_id = bulk
    dest = out / "run.JSONL"
    dest.write_text("old\n")
    dest.chmod(0o640)
    with SQLiteStore(db) as store:
        assert export_run(store, run_id, dest) == N
    _jsonl_complete(dest)
    assert dest.stat().st_mode & 0o777 == 0o640, "the replaced file keeps its permissions"
    assert sorted(p.name for p in out.iterdir()) == ["run.JSONL"]
