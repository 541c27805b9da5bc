"""Stopping ``harmscope scan`` the hard ways, then resuming it from the command line.

A real ``harmscope scan`` process scans an OpenAI-compatible server on 127.0.0.1 that answers
after a fixed delay and logs every request; the process is SIGKILLed or interrupted part-way
and ``harmscope scan --resume`` finishes the run. The server is a purpose-built stand-in (it
refuses everything, slowly) because the point is the store and the runner, not a model.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from tests.cli.scan_helpers import (
    HARMSCOPE,
    numbered_suite,
    openai_scan,
    scan_env,
    start_and_wait,
    stored_by_case,
)
from tests.servers import chat_completion, free_port, serve

N_CASES = 40


class SlowServer:
    """Answers chat completions after ``delay`` seconds; logs prompts and peak concurrency."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.phase = "first"
        self.calls: list[tuple[str, str]] = []
        self.in_flight = 0
        self.peak = 0
        self._lock = threading.Lock()
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._chat)

    async def _chat(self, request: Request) -> dict[str, object]:
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        with self._lock:
            self.calls.append((self.phase, prompt))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            with self._lock:
                self.in_flight -= 1
        return chat_completion(f"I'm sorry, but I can't help with that ({prompt}).")

    def prompts(self, phase: str) -> list[str]:
        return [p for ph, p in self.calls if ph == phase]


@contextmanager
def serve_on(app: FastAPI, port: int) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1:``port``; yields the ``/v1`` base URL."""
    with serve(app, port=port) as url:
        yield f"{url}/v1"


def _scan_args(url: str, suite: Path, db: Path, *extra: str) -> list[str]:
    return [*HARMSCOPE, *openai_scan("slow", url, suite, db, *extra)]


def _resume(db: Path, run: str, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [*HARMSCOPE, "scan", "--db", str(db), "--resume", run, "--json", *extra]
    return subprocess.run(
        cmd, cwd=db.parent, env=scan_env(), capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    return numbered_suite(tmp_path / "forty.jsonl", N_CASES)


_stored = stored_by_case


def _counts(db: Path) -> tuple[int, int, int, int]:
    """(runs, run cases, responses, distinct answered cases) in the file."""
    con = sqlite3.connect(db)
    try:
        return (
            con.execute("SELECT COUNT(*) FROM runs").fetchone()[0],
            con.execute("SELECT COUNT(*) FROM run_cases").fetchone()[0],
            con.execute("SELECT COUNT(*) FROM responses").fetchone()[0],
            con.execute("SELECT COUNT(DISTINCT case_id) FROM responses").fetchone()[0],
        )
    finally:
        con.close()


def _start_and_wait(cmd: list[str], db: Path, at_least: int) -> subprocess.Popen[str]:
    """Start a scan; return once ``at_least`` cases are answered in ``db`` (still running)."""
    return start_and_wait(cmd, db, at_least)


def _prompts(db: Path) -> dict[str, str]:
    """Prompt of every stored case, by case id."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT case_id, case_json FROM run_cases").fetchall()
    finally:
        con.close()
    return {cid: json.loads(js)["messages"][-1]["content"] for cid, js in rows}


def test_sigkilled_scan_resumes_from_the_command_line(tmp_path: Path, suite: Path) -> None:
    db = tmp_path / "kill.db"
    server = SlowServer(delay=0.15)
    with serve_on(server.app, free_port()) as url:
        proc = _start_and_wait(_scan_args(url, suite, db, "--concurrency", "2"), db, 8)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        time.sleep(3 * server.delay)  # requests in flight at the kill finish on the server
        before = _stored(db)
        assert 8 <= len(before) < N_CASES, f"killed mid-run ({len(before)} stored)"
        server.phase = "resume"
        done = _resume(db, "latest")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "complete"
    assert (out["cases"], out["completed"], out["errors"]) == (N_CASES, N_CASES, 0)
    assert out["metrics"]["unsafe_compliance_rate"]["n"] == N_CASES // 2

    runs, run_cases, responses, answered = _counts(db)
    assert (runs, run_cases) == (1, N_CASES), "the resume continued the run, it made no new one"
    assert responses == answered == N_CASES, "one stored response per case: none lost or doubled"
    resumed = server.prompts("resume")
    assert len(resumed) == len(set(resumed)), "no case was requested twice by the resume"
    prompts = _prompts(db)
    missing = {prompts[cid] for cid in _stored(db).keys() - before.keys()}
    assert set(resumed) == missing, "the resume asked for exactly the cases not yet stored"
    first = server.prompts("first")
    assert set(first) | set(resumed) == {f"Request number {i:02d}" for i in range(N_CASES)}


def test_interrupted_scan_exits_130_and_says_how_to_continue(tmp_path: Path, suite: Path) -> None:
    db = tmp_path / "int.db"
    server = SlowServer(delay=0.15)
    with serve_on(server.app, free_port()) as url:
        proc = _start_and_wait(_scan_args(url, suite, db, "--concurrency", "2"), db, 6)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr
        assert f"continue with: harmscope scan --db {db} --resume latest" in stderr
        assert "Traceback" not in stderr
        con = sqlite3.connect(db)
        status, run_id = con.execute("SELECT status, run_id FROM runs").fetchone()
        con.close()
        assert status == "stopped"
        stopped = len(_stored(db))
        assert 6 <= stopped < N_CASES
        server.phase = "resume"
        done = _resume(db, "latest")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["run_id"] == run_id and out["status"] == "complete"
    assert (out["completed"], out["errors"]) == (N_CASES, 0)
    assert _counts(db)[2:] == (N_CASES, N_CASES)
    assert len(server.prompts("resume")) == N_CASES - stopped, "only the unstored cases re-ran"


def test_errored_cases_are_retried_on_resume_once_the_endpoint_is_up(
    tmp_path: Path, suite: Path
) -> None:
    db = tmp_path / "dead.db"
    port = free_port()  # nothing listens here yet
    first = subprocess.run(
        _scan_args(f"http://127.0.0.1:{port}/v1", suite, db, "--limit", "6", "--json"),
        cwd=tmp_path,
        env=scan_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.returncode == 1 and "all 6 requests failed" in first.stderr
    failed = json.loads(first.stdout)
    assert (failed["completed"], failed["errors"]) == (6, 6), "errors are stored per case"
    assert failed["metrics"]["unsafe_compliance_rate"]["n"] == 0, "never counted as safe"

    server = SlowServer(delay=0.0)
    with serve_on(server.app, port):
        done = _resume(db, failed["run_id"])
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["run_id"] == failed["run_id"] and out["status"] == "complete"
    assert (out["cases"], out["completed"], out["errors"]) == (6, 6, 0)
    assert len(server.calls) == 6, "each errored case was asked again, once"
    assert out["metrics"]["unsafe_compliance_rate"]["value"] == 0.0, "now answered and judged"
    assert out["metrics"]["unsafe_compliance_rate"]["n"] == 3
    assert _counts(db)[2:] == (6, 6), "the retried answers replaced the errors"


@pytest.mark.parametrize("limit", [1, 3])
def test_requests_in_flight_never_exceed_concurrency(
    tmp_path: Path, suite: Path, limit: int
) -> None:
    server = SlowServer(delay=0.1)
    with serve_on(server.app, free_port()) as url:
        cmd = _scan_args(url, suite, tmp_path / "c.db", "--concurrency", str(limit), "--json")
        p = subprocess.run(
            cmd, cwd=tmp_path, env=scan_env(), capture_output=True, text=True, timeout=300
        )
    assert p.returncode == 0, p.stderr
    assert len(server.calls) == N_CASES
    assert server.peak == limit, f"peak {server.peak} in flight with --concurrency {limit}"
