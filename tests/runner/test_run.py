import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from harmscope.config import RunConfig
from harmscope.errors import StoreError
from harmscope.records import SCHEMA_VERSION, Case, Response, Verdict
from harmscope.runner import run_async, summarize
from harmscope.store import SQLiteStore, export_run
from harmscope.targets.echo import EchoTarget

KILLABLE = Path(__file__).with_name("killable.py")


class ExplodingJudge:
    """A judge with a bug: the runner must store the answer and an unscored verdict."""

    id = "boom@1"

    async def judge(self, case, response):
        raise RuntimeError("kaboom")


class StartsWithJudge:
    id = "starts@1"

    async def judge(self, case, response):
        label = "full_refusal" if response.text.startswith("I'm sorry") else "full_compliance"
        return Verdict(case_id=case.id, judge_id=self.id, refusal=label)


def _cases(n):
    return [
        Case.from_prompt(
            f"p{i}", id=f"c{i}", category="hate", expected="refuse" if i % 2 else "comply"
        )
        for i in range(n)
    ]


def test_run_stores_everything_and_uses_the_cache(tmp_path):
    async def go():
        with SQLiteStore(tmp_path / "r.db") as store:
            config = RunConfig(target="echo/refuse", concurrency=3)
            kw = dict(store=store, target=EchoTarget("refuse"), judges=[StartsWithJudge()])
            first = await run_async(config, cases=_cases(6), suite_ref="s@1", **kw)
            progress = []
            second = await run_async(
                config, cases=_cases(6), suite_ref="s@1", on_progress=progress.append, **kw
            )
            return first, second, progress

    first, second, progress = asyncio.run(go())
    assert first.status == "complete" and first.completed == 6
    m = first.metrics
    assert (m.unsafe_compliance_rate.k, m.unsafe_compliance_rate.n) == (0, 3)
    assert (m.over_refusal_rate.k, m.over_refusal_rate.n) == (3, 3)
    assert second.run_id != first.run_id
    assert progress[-1].cached == 6 and progress[-1].done == 6, "second run served from cache"


def test_a_failing_judge_never_loses_the_answer(tmp_path):
    async def go():
        with SQLiteStore(tmp_path / "r.db") as store:
            s = await run_async(
                RunConfig(),
                store=store,
                target=EchoTarget("comply"),
                judges=[ExplodingJudge()],
                cases=_cases(2),
                suite_ref="s@1",
            )
            return s, store.results(s.run_id)

    summary, results = asyncio.run(go())
    assert summary.unscored == 2 and summary.completed == 2
    assert results[0].response.text and "kaboom" in results[0].verdicts[0].unscored_reason


def _responses(db):
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT case_id, created_at || response_json FROM responses"))
    except sqlite3.OperationalError:  # the file exists but its tables are not created yet
        return {}
    finally:
        con.close()


def test_sigkill_then_resume_loses_and_duplicates_nothing(tmp_path):
    db, log = tmp_path / "kill.db", tmp_path / "calls.log"
    cmd = [sys.executable, str(KILLABLE), "--db", str(db), "--log", str(log), "--cases", "60"]
    proc = subprocess.Popen([*cmd, "--phase", "first"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if db.exists() and len(_responses(db)) >= 10:
                break
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    before = _responses(db)
    assert 10 <= len(before) < 60, f"killed mid-run ({len(before)} stored)"

    with SQLiteStore(db) as store:
        run_id = store.run("latest").run_id
        assert store.run(run_id).status == "running", "a killed run stays resumable"
    done = subprocess.run(
        [*cmd, "--phase", "resume", "--resume", run_id], capture_output=True, text=True, check=True
    )
    assert done.stdout.split()[1:] == ["complete", "60"]

    after = _responses(db)
    assert len(after) == 60, "every case has exactly one stored response"
    assert all(after[k] == v for k, v in before.items()), "stored results were not redone"
    calls = [line.split() for line in log.read_text().splitlines()]
    resumed = [cid for phase, cid in calls if phase == "resume"]
    assert len(resumed) == len(set(resumed)), "no case generated twice after resume"
    assert set(resumed) == set(after) - set(before), "resume ran exactly the missing cases"
    with SQLiteStore(db) as store:
        s = summarize(store, run_id)
        assert s.status == "complete" and s.metrics.unsafe_compliance_rate.n == 60


def test_records_carry_the_schema_version_and_reject_newer_ones(tmp_path):
    async def go():
        with SQLiteStore(tmp_path / "v.db") as store:
            s = await run_async(
                RunConfig(target="echo/refuse"),
                store=store,
                target=EchoTarget("refuse"),
                judges=[StartsWithJudge()],
                cases=_cases(3),
                suite_ref="s@1",
            )
            export_run(store, s.run_id, tmp_path / "v.jsonl")
            return s, store.run(s.run_id).config

    summary, stored = asyncio.run(go())
    assert summary.schema_version == SCHEMA_VERSION == stored.schema_version
    assert json.loads(summary.model_dump_json())["schema_version"] == SCHEMA_VERSION
    rows = [json.loads(x) for x in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert [r["schema_version"] for r in rows] == [SCHEMA_VERSION] * 3

    # A config stored before the field existed reads as the current version ...
    old = RunConfig(target="echo/refuse").model_dump(mode="json")
    del old["schema_version"]
    assert RunConfig.model_validate(old).schema_version == SCHEMA_VERSION
    # ... and one written by a newer harmscope is refused, in memory and in a stored run.
    with pytest.raises(ValidationError, match="schema_version"):
        RunConfig(schema_version=SCHEMA_VERSION + 1)
    newer = {**old, "schema_version": SCHEMA_VERSION + 1}
    con = sqlite3.connect(tmp_path / "v.db")
    con.execute("UPDATE runs SET config=?", (json.dumps(newer),))
    con.commit()
    con.close()
    with SQLiteStore(tmp_path / "v.db") as store, pytest.raises(StoreError, match="unreadable"):
        store.run("latest")


class CountingTarget:
    """Answers after a short pause and counts the requests it gets."""

    def __init__(self, tag: str = "", delay: float = 0.0) -> None:
        self.id, self.cache_tag, self.delay, self.calls = "test/count", tag, delay, 0

    async def generate(self, messages, params, *, case_id=""):
        self.calls += 1
        await asyncio.sleep(self.delay)
        return Response(case_id=case_id, target_id=self.id, text=f"{self.cache_tag} answer")

    async def aclose(self):
        pass


def test_no_cache_neither_reads_nor_writes_the_cache(tmp_path):
    async def go():
        with SQLiteStore(tmp_path / "n.db") as store:
            target = CountingTarget()
            kw = dict(store=store, target=target, judges=[StartsWithJudge()], suite_ref="s@1")
            await run_async(RunConfig(), cases=_cases(4), use_cache=False, **kw)
            empty = store._db.execute("SELECT COUNT(*) FROM cache").fetchone()[0]
            await run_async(RunConfig(), cases=_cases(4), **kw)  # fills the cache
            await run_async(RunConfig(), cases=_cases(4), use_cache=False, **kw)
            return empty, target.calls

    empty, calls = asyncio.run(go())
    assert empty == 0, "a --no-cache run added nothing to the cache"
    assert calls == 12, "a --no-cache run asked the target although the cache had the answers"


def test_cache_is_keyed_on_the_targets_cache_tag(tmp_path):
    async def go():
        with SQLiteStore(tmp_path / "t.db") as store:
            a, b = CountingTarget("url=http://a/v1"), CountingTarget("url=http://b/v1")
            kw = dict(store=store, judges=[StartsWithJudge()], suite_ref="s@1", cases=_cases(3))
            await run_async(RunConfig(), target=a, **kw)
            second = await run_async(RunConfig(), target=b, **kw)
            texts = {r.response.text for r in store.results(second.run_id)}
            return a.calls, b.calls, texts

    a_calls, b_calls, texts = asyncio.run(go())
    assert (a_calls, b_calls) == (3, 3) and texts == {"url=http://b/v1 answer"}


def test_a_second_resume_of_a_run_being_worked_on_is_refused(tmp_path):
    db = tmp_path / "busy.db"
    with SQLiteStore(db) as store:
        run_id = store.create_run(
            config=RunConfig(concurrency=2),
            suite_ref="s@1",
            target_id="test/count",
            judges=["starts@1"],
            cases=_cases(20),
        )
        store.set_status(run_id, "stopped")

    async def go():
        target = CountingTarget(delay=0.05)
        with SQLiteStore(db) as one, SQLiteStore(db) as two:
            kw = dict(target=target, judges=[StartsWithJudge()], resume=run_id)
            first = asyncio.create_task(run_async(RunConfig(concurrency=2), store=one, **kw))
            await asyncio.sleep(0.2)
            with pytest.raises(StoreError, match=f"run {run_id} is being worked on"):
                await run_async(RunConfig(concurrency=2), store=two, **kw)
            summary = await first
            held = one.lease(run_id)
            return summary, target.calls, held

    summary, calls, held = asyncio.run(go())
    assert summary.status == "complete" and summary.completed == 20
    assert calls == 20, "only one worker sent the cases"
    assert held is None, "the lease is released on completion"


def test_a_worker_whose_lease_was_taken_over_stops_without_touching_the_run(tmp_path):
    db = tmp_path / "lost.db"

    async def go():
        target = CountingTarget(delay=0.05)
        with SQLiteStore(db, lease_timeout_s=0.4) as store, SQLiteStore(db) as other:
            task = asyncio.create_task(
                run_async(
                    RunConfig(concurrency=1),
                    store=store,
                    target=target,
                    judges=[StartsWithJudge()],
                    cases=_cases(200),
                    suite_ref="s@1",
                )
            )
            await asyncio.sleep(0.3)
            run_id = other.run("latest").run_id
            other._db.execute("UPDATE leases SET owner='another-host:1:thief'")
            with pytest.raises(StoreError, match="another worker took the run over"):
                await task
            return other.run(run_id).status, other.lease(run_id), target.calls

    status, lease, calls = asyncio.run(go())
    assert status == "running", "the new owner's run is left as it is"
    assert lease == "another-host:1:thief", "and so is its lease"
    assert calls < 200
