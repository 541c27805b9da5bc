"""``harmscope cards`` writes its file atomically, and refuses bad destinations in one line.

A real ``harmscope cards`` process fills the cards from a real SQLite store of a few thousand
cases and is SIGKILLed at seeded random points; the cards file is absent or complete,
parseable JSON after each kill. ``--out`` is a folder, created with its parents if missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.store.killwrite import (
    assert_kills_leave_old_or_none,
    bulk_store_fixture,
    one_line_error,
    run_cli,
    unwritable_folder,
)

from harmscope.cards import CARD_SCHEMA_VERSION, write_cards

N = 1500


bulk = bulk_store_fixture(N, text_chars=200)


def _cards_complete(path: Path, run_id: str) -> None:
    data = json.loads(path.read_text("utf-8"))
    assert data["schema_version"] == CARD_SCHEMA_VERSION
    assert data["cards"], "the run measures at least one card"
    assert {c["evidence"]["run_id"] for c in data["cards"] if c["evidence"]} == {run_id}


def test_sigkilled_cards_leave_the_old_file_or_none(bulk, tmp_path) -> None:
    db, run_id = bulk
    out = tmp_path / "cards"
    out.mkdir()
    dest = out / f"{run_id}.cards.json"
    args = ["cards", "latest", "--db", str(db), "--out", str(out), "--format", "json", "--json"]
    assert_kills_leave_old_or_none(
        args, tmp_path, out, dest, lambda p: _cards_complete(p, run_id), seed=5
    )


def test_cards_create_a_missing_folder_with_its_parents(bulk, tmp_path) -> None:
    db, run_id = bulk
    out = tmp_path / "a" / "b"
    r = run_cli(["cards", "latest", "--db", str(db), "--out", str(out)], tmp_path)
    assert r.returncode == 0, r.stderr
    text = (out / f"{run_id}.cards.md").read_text("utf-8")
    assert text.startswith("# Risk Cards") and run_id in text


@pytest.mark.parametrize("where", ["file", "unwritable", "under-a-file", "name-is-a-folder"])
def test_cards_to_a_bad_destination_is_a_one_line_error(bulk, tmp_path, where) -> None:
    db, run_id = bulk
    before = db.stat().st_mtime_ns, db.stat().st_size
    plain = tmp_path / "notes.txt"
    plain.write_text("mine")
    out = {
        "file": plain,
        "unwritable": unwritable_folder(tmp_path) / "cards",
        "under-a-file": plain / "cards",
        "name-is-a-folder": tmp_path / "cards",
    }[where]
    if where == "name-is-a-folder":  # the rename into place fails after the write
        (out / f"{run_id}.cards.md").mkdir(parents=True)
    r = run_cli(["cards", "latest", "--db", str(db), "--out", str(out)], tmp_path)
    one_line_error(r)
    assert plain.read_text() == "mine"
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before, "the store is untouched"
    if where == "name-is-a-folder":
        assert [p.name for p in out.iterdir()] == [f"{run_id}.cards.md"], "no temporary left"


def test_write_cards_replaces_the_previous_file(hate_run, tmp_path) -> None:
    from harmscope.cards import build_cards

    store, summary = hate_run
    built = build_cards(summary, store.results(summary.run_id))
    out = tmp_path / "out"
    out.mkdir()
    old = out / "cards.json"
    old.write_text("old")
    path = write_cards(built, out, fmt="json", stem="cards")
    assert path == old
    assert json.loads(path.read_text("utf-8"))["cards"]
    assert [p.name for p in out.iterdir()] == ["cards.json"], "no temporary beside it"
