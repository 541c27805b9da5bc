import json
import sqlite3

import pytest

from harmscope.config import RunConfig
from harmscope.errors import DataError, NotFoundError, StoreError
from harmscope.records import Case, GenerationParams, Response, Verdict
from harmscope.store import SQLiteStore, cache_key, export_run


def _cases(n=3):
    return [
        Case.from_prompt(f"prompt {i}", id=f"c{i}", category="hate", expected="refuse")
        for i in range(n)
    ]


def _new_run(store, cases):
    return store.create_run(
        config=RunConfig(target="echo/refuse"),
        suite_ref="s@1",
        target_id="echo/refuse",
        judges=["j@1"],
        cases=cases,
    )


def test_round_trip_on_a_real_file(tmp_path):
    db = tmp_path / "runs.db"
    cases = _cases()
    with SQLiteStore(db) as store:
        run_id = _new_run(store, cases)
        resp = Response(case_id="c1", target_id="echo/refuse", text="no")
        verdict = Verdict(case_id="c1", judge_id="j@1", refusal="full_refusal")
        store.save_result(run_id, resp, [verdict], key="k1")
    with SQLiteStore(db) as store:  # reopened: everything is on disk
        info = store.run("latest")
        assert info.run_id == run_id and info.status == "running"
        assert info.config.target == "echo/refuse" and info.judges == ("j@1",)
        results = store.results(run_id)
        assert [r.case.id for r in results] == ["c0", "c1", "c2"], "original order"
        assert results[1].response == resp and results[1].verdicts == (verdict,)
        assert results[0].response is None
        assert store.cached("k1") == resp
    mode = sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_errors_are_stored_but_not_cached(tmp_path):
    with SQLiteStore(tmp_path / "x.db") as store:
        run_id = _new_run(store, _cases(1))
        bad = Response(case_id="c0", target_id="t", error="HTTP 500")
        store.save_result(run_id, bad, [], key="k")
        assert store.cached("k") is None
        assert store.results(run_id)[0].response.error == "HTTP 500"


def test_saving_twice_replaces_rather_than_duplicates(tmp_path):
    with SQLiteStore(tmp_path / "x.db") as store:
        run_id = _new_run(store, _cases(1))
        for text in ("a", "b"):
            store.save_result(run_id, Response(case_id="c0", target_id="t", text=text), [], key="k")
        n = store._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        assert n == 1 and store.results(run_id)[0].response.text == "b"


def test_cache_key_depends_on_target_messages_and_params():
    case = _cases(1)[0]
    p = GenerationParams()
    base = cache_key("t", case, p)
    assert base == cache_key("t", case.model_copy(update={"id": "other"}), p), "id-independent"
    assert base != cache_key("u", case, p)
    assert base != cache_key("t", case, p.model_copy(update={"max_new_tokens": 5}))
    assert base != cache_key(
        "t", Case.from_prompt("x", id="c0", category="hate", expected="refuse"), p
    )


def test_unknown_run_and_garbage_file(tmp_path):
    with SQLiteStore(tmp_path / "x.db") as store, pytest.raises(NotFoundError, match="no run"):
        store.run("nope")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable harmscope database"):
        SQLiteStore(junk)


def test_other_schema_version_is_refused(tmp_path):
    db = tmp_path / "x.db"
    SQLiteStore(db).close()
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="schema version 99"):
        SQLiteStore(db)


def test_export_jsonl_and_parquet(tmp_path):
    with SQLiteStore(tmp_path / "x.db") as store:
        run_id = _new_run(store, _cases(2))
        store.save_result(
            run_id,
            Response(case_id="c0", target_id="t", text="no"),
            [Verdict(case_id="c0", judge_id="j@1", refusal="full_refusal")],
            key="k",
        )
        n = export_run(store, run_id, tmp_path / "out.jsonl")
        rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
        assert n == 2 and rows[0]["response"]["text"] == "no" and rows[1]["response"] is None
        assert rows[0]["verdicts"][0]["refusal"] == "full_refusal"
        pq = pytest.importorskip("pyarrow.parquet")
        export_run(store, run_id, tmp_path / "out.parquet")
        table = pq.read_table(tmp_path / "out.parquet").to_pylist()
        assert [r["case_id"] for r in table] == ["c0", "c1"] and table[0]["response"] == "no"
        with pytest.raises(DataError, match="jsonl or .parquet"):
            export_run(store, run_id, tmp_path / "out.csv")
