"""``harmscope report`` writes its page atomically, and refuses bad destinations in one line.

A real ``harmscope report`` process renders a run of a few thousand cases from a real SQLite
store and is SIGKILLed at seeded random points; the page is absent or complete after each
kill. ``--out`` takes a folder (created with its parents) or a ``.html`` file name (its
folder must exist, and an existing file is replaced only with ``--force``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.store.killwrite import (
    assert_kills_leave_old_or_none,
    bulk_store_fixture,
    one_line_error,
    run_cli,
    unwritable_folder,
)

N = 1500


bulk = bulk_store_fixture(N, text_chars=200)


def _page_complete(path: Path, run_id: str) -> None:
    text = path.read_text("utf-8")
    assert text.lower().startswith("<!doctype html>"), text[:40]
    assert text.rstrip().endswith("</html>"), "the page is not cut off"
    assert run_id in text


def test_sigkilled_report_leaves_the_old_page_or_none(bulk, tmp_path) -> None:
    db, run_id = bulk
    out = tmp_path / "reports"
    out.mkdir()
    page = out / f"{run_id}.html"
    args = ["report", "latest", "--db", str(db), "--out", str(out), "--json"]
    assert_kills_leave_old_or_none(
        args, tmp_path, out, page, lambda p: _page_complete(p, run_id), seed=3
    )


def test_report_creates_a_missing_report_folder_with_its_parents(bulk, tmp_path) -> None:
    db, run_id = bulk
    out = tmp_path / "a" / "b" / "reports"
    r = run_cli(["report", "latest", "--db", str(db), "--out", str(out), "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    _page_complete(out / f"{run_id}.html", run_id)


def test_report_to_an_html_file_needs_force_to_replace_it(bulk, tmp_path) -> None:
    db, run_id = bulk
    dest = tmp_path / "page.html"
    dest.write_text("keep me")
    args = ["report", "latest", "--db", str(db), "--out", str(dest), "--json"]
    r = run_cli(args, tmp_path)
    one_line_error(r, str(dest), "--force")
    assert dest.read_text() == "keep me"
    r = run_cli([*args, "--force"], tmp_path)
    assert r.returncode == 0, r.stderr
    _page_complete(dest, run_id)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


def test_report_to_a_new_html_file_writes_it_there(bulk, tmp_path) -> None:
    db, run_id = bulk
    dest = tmp_path / "mine.html"
    r = run_cli(["report", "latest", "--db", str(db), "--out", str(dest), "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    _page_complete(dest, run_id)


@pytest.mark.parametrize("where", ["file", "missing-folder-of-file", "unwritable", "under-a-file"])
def test_report_to_a_bad_destination_is_a_one_line_error(bulk, tmp_path, where) -> None:
    db, _ = bulk
    before = db.stat().st_mtime_ns, db.stat().st_size
    plain = tmp_path / "notes.txt"
    plain.write_text("mine")
    dest = {
        "file": plain,
        "missing-folder-of-file": tmp_path / "no" / "page.html",
        "unwritable": unwritable_folder(tmp_path) / "reports",
        "under-a-file": plain / "reports",
    }[where]
    r = run_cli(["report", "latest", "--db", str(db), "--out", str(dest)], tmp_path)
    one_line_error(r)
    assert plain.read_text() == "mine"
    assert not (tmp_path / "no").exists()
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before, "the store is untouched"


def test_a_failed_page_write_is_one_line_and_leaves_no_temporary(bulk, tmp_path) -> None:
    """The run's page name is taken by a folder: the rename fails after the write."""
    db, run_id = bulk
    out = tmp_path / "reports"
    (out / f"{run_id}.html").mkdir(parents=True)
    r = run_cli(["report", "latest", "--db", str(db), "--out", str(out)], tmp_path)
    one_line_error(r, f"{run_id}.html")
    assert [p.name for p in out.iterdir()] == [f"{run_id}.html"], "no temporary is left"
