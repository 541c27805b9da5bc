import json
import socket
import sqlite3
import subprocess
import sys
import threading

import pytest

from harmscope.config import RunConfig
from harmscope.errors import DataError, NotFoundError, RunBusyError, StoreError
from harmscope.records import Case, GenerationParams, Response, Verdict
from harmscope.store import SQLiteStore, cache_key, export_run
from harmscope.store.sqlite import lease_owner


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


def test_cache_key_depends_on_the_system_under_test():
    case, p = _cases(1)[0], GenerationParams()
    a = cache_key("openai/m", case, p, system="url=http://127.0.0.1:1/v1")
    b = cache_key("openai/m", case, p, system="url=http://127.0.0.1:2/v1")
    assert a != b != cache_key("openai/m", case, p)
    assert a != cache_key("openai/m", case, p.model_copy(update={"system_prompt": "Be terse."}))
    for field, value in [("temperature", 0.7), ("top_p", 0.9), ("seed", 3)]:
        assert a != cache_key(
            "openai/m",
            case,
            p.model_copy(update={field: value}),
            system="url=http://127.0.0.1:1/v1",
        ), field


def test_results_stored_without_caching_leave_the_cache_alone(tmp_path):
    with SQLiteStore(tmp_path / "x.db") as store:
        run_id = _new_run(store, _cases(1))
        resp = Response(case_id="c0", target_id="t", text="no")
        store.save_result(run_id, resp, [], key="k", cache=False)
        assert store.results(run_id)[0].response == resp and store.cached("k") is None


def test_opening_a_missing_store_without_create_is_an_error(tmp_path):
    with pytest.raises(StoreError, match="no such store"):
        SQLiteStore(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_a_live_lease_refuses_another_owner_until_released(tmp_path):
    db = tmp_path / "l.db"
    with SQLiteStore(db) as a, SQLiteStore(db) as b:
        run_id = _new_run(a, _cases(1))
        mine, theirs = lease_owner(), lease_owner()
        a.acquire_lease(run_id, mine)
        a.acquire_lease(run_id, mine)  # the holder may take it again
        with pytest.raises(RunBusyError, match=f"run {run_id} is being worked on by .* pid"):
            b.acquire_lease(run_id, theirs)
        assert a.renew_lease(run_id, mine) and not b.renew_lease(run_id, theirs)
        a.release_lease(run_id, mine)
        b.acquire_lease(run_id, theirs)
        assert a.lease(run_id) == theirs and not a.renew_lease(run_id, mine)


def test_the_lease_of_a_dead_process_on_this_host_is_taken_over(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    owner = f"{socket.gethostname()}:{int(dead.stdout)}:0000beef"
    with SQLiteStore(tmp_path / "l.db") as store:
        run_id = _new_run(store, _cases(1))
        store.acquire_lease(run_id, owner)
        store.acquire_lease(run_id, mine := lease_owner())
        assert store.lease(run_id) == mine


def test_a_lease_silent_past_the_timeout_is_taken_over(tmp_path):
    elsewhere = "another-host:12345:0000beef"  # a pid on another host cannot be checked
    with SQLiteStore(tmp_path / "l.db", lease_timeout_s=30) as store:
        run_id = _new_run(store, _cases(1))
        store.acquire_lease(run_id, elsewhere)
        with pytest.raises(RunBusyError, match="another-host pid 12345"):
            store.acquire_lease(run_id, lease_owner())
        store._db.execute("UPDATE leases SET heartbeat = heartbeat - 31")
        store.acquire_lease(run_id, mine := lease_owner())
        assert store.lease(run_id) == mine


def test_racing_takeovers_of_a_stale_lease_have_one_winner(tmp_path):
    db = tmp_path / "race.db"
    with SQLiteStore(db, lease_timeout_s=30) as store:
        run_id = _new_run(store, _cases(1))
        store.acquire_lease(run_id, "another-host:1:stale")
        store._db.execute("UPDATE leases SET heartbeat = heartbeat - 3600")
    barrier, won, refused = threading.Barrier(8), [], []

    def contend() -> None:
        with SQLiteStore(db, lease_timeout_s=30) as mine:
            owner = lease_owner()
            barrier.wait()
            try:
                mine.acquire_lease(run_id, owner)
                won.append(owner)
            except RunBusyError:
                refused.append(owner)

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(won) == 1 and len(refused) == 7
    with SQLiteStore(db) as store:
        assert store.lease(run_id) == won[0]


def test_check_writable_passes_on_a_writable_store(tmp_path):
    with SQLiteStore(tmp_path / "w.db") as store:
        store.check_writable()
