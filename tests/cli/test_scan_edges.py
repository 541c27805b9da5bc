"""``harmscope scan`` at its edges, as a user meets them: real processes, real servers, real files.

Each test runs the real command against OpenAI-compatible stand-ins on 127.0.0.1 (they answer
slowly, hang, or only count requests): the subject is the cache, the run lease, signals and
the one-line errors, not a model.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from tests.cli.scan_helpers import (
    HARMSCOPE,
    numbered_suite,
    openai_scan,
    scan_args,
    scan_env,
    start_and_wait,
    stored_by_case,
)
from tests.servers import chat_completion, serve

N_CASES = 24


class CountingServer:
    """Answers chat completions after ``delay`` seconds and logs every prompt it was sent."""

    def __init__(self, delay: float = 0.0, answer: str = "I'm sorry, I can't help.") -> None:
        self.delay, self.answer = delay, answer
        self.phase = "first"
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._chat)

    async def _chat(self, request: Request) -> dict[str, object]:
        prompt = (await request.json())["messages"][-1]["content"]
        with self._lock:
            self.calls.append((self.phase, prompt))
        await asyncio.sleep(self.delay)
        return chat_completion(f"{self.answer} ({prompt})")

    def prompts(self, phase: str) -> list[str]:
        return [p for ph, p in self.calls if ph == phase]


def _run(*args: str, cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HARMSCOPE, *args],
        cwd=cwd,
        env=scan_env(),
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )  # type: ignore[call-overload]


def _scan(url: str, suite: Path, db: Path, *extra: str) -> list[str]:
    return openai_scan("stand-in", f"{url}/v1", suite, db, *extra)


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    return numbered_suite(tmp_path / "cases.jsonl", N_CASES)


def _hanging(calls: list[float], seconds: float = 5) -> FastAPI:
    """A chat endpoint that records each call's time and answers only after ``seconds``."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def hang() -> dict[str, object]:
        calls.append(time.monotonic())
        await asyncio.sleep(seconds)
        return chat_completion("late")

    return app


def _one_line_error(p: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The single ``error:`` line of a failed command (asserting there is no traceback)."""
    assert p.returncode == code, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr, p.stderr
    lines = [x for x in p.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, p.stderr
    return lines[0]


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        con.close()


def _stored(db: Path) -> int:
    """Committed response rows in ``db`` (every run)."""
    return sum(stored_by_case(db).values())


def _start_and_wait(args: list[str], db: Path, at_least: int) -> subprocess.Popen[str]:
    """Start a scan; return once ``at_least`` cases are answered in ``db`` (still running)."""
    return start_and_wait([*HARMSCOPE, *args], db, at_least)


# -- the cache ------------------------------------------------------------------------------


def test_a_second_endpoint_gets_every_request_not_the_first_ones_cached_answers(
    tmp_path: Path, suite: Path
) -> None:
    db = tmp_path / "two.db"
    first, second = CountingServer(answer="first says no"), CountingServer(answer="second says no")
    with serve(first.app) as a, serve(second.app) as b:
        p1 = _run(*_scan(a, suite, db, "--limit", "6", "--json"), cwd=tmp_path)
        p2 = _run(*_scan(b, suite, db, "--limit", "6", "--json"), cwd=tmp_path)
    assert p1.returncode == 0 and p2.returncode == 0, p1.stderr + p2.stderr
    assert (len(first.calls), len(second.calls)) == (6, 6), "each endpoint was asked every case"
    run_id = json.loads(p2.stdout)["run_id"]
    texts = _rows(db, f"SELECT response_json FROM responses WHERE run_id='{run_id}'")
    assert all("second says no" in json.loads(str(t[0]))["text"] for t in texts)


def test_no_cache_asks_the_endpoint_again_and_caches_nothing(tmp_path: Path, suite: Path) -> None:
    server = CountingServer()
    with serve(server.app) as url:
        fresh = tmp_path / "fresh.db"
        p = _run(*_scan(url, suite, fresh, "--limit", "4", "--no-cache"), cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        assert _rows(fresh, "SELECT COUNT(*) FROM cache") == [(0,)], "nothing written"
        db = tmp_path / "cached.db"
        for extra in ((), (), ("--no-cache",)):
            p = _run(*_scan(url, suite, db, "--limit", "4", *extra), cwd=tmp_path)
            assert p.returncode == 0, p.stderr
    # 4 (fresh, no cache) + 4 (fills the cache) + 0 (served from it) + 4 (--no-cache)
    assert len(server.calls) == 12


# -- the run lease ----------------------------------------------------------------------------


def test_a_second_resume_of_a_run_being_worked_on_refuses(tmp_path: Path, suite: Path) -> None:
    db = tmp_path / "lease.db"
    server = CountingServer(delay=0.4)  # the first resume takes ~9 s: long enough to overlap
    with serve(server.app) as url:
        first = _scan(url, suite, db, "--max-requests", "2", "--concurrency", "1", "--json")
        stopped = _run(*first, cwd=tmp_path)
        assert stopped.returncode == 0, stopped.stderr
        run_id = json.loads(stopped.stdout)["run_id"]
        assert json.loads(stopped.stdout)["status"] == "stopped"
        server.phase = "resume"
        resume = ["scan", "--db", str(db), "--resume", run_id, "--json"]
        worker = _start_and_wait(resume, db, 4)
        second = _run(*resume, cwd=tmp_path)
        out, err = worker.communicate(timeout=120)
    line = _one_line_error(second)
    assert f"run {run_id} is being worked on by" in line and f"pid {worker.pid}" in line
    assert worker.returncode == 0, err
    done = json.loads(out)
    assert (done["status"], done["completed"], done["errors"]) == ("complete", N_CASES, 0)
    resumed = server.prompts("resume")
    assert len(resumed) == len(set(resumed)) == N_CASES - 2, "the cases were sent once, by one"
    assert _rows(db, "SELECT COUNT(*), COUNT(DISTINCT case_id) FROM responses") == [
        (N_CASES, N_CASES)
    ]
    assert _rows(db, "SELECT COUNT(*) FROM leases") == [(0,)], "released on completion"


# -- signals ------------------------------------------------------------------------------


def test_sigterm_stops_like_ctrl_c_and_the_resume_loses_and_repeats_nothing(
    tmp_path: Path, suite: Path
) -> None:
    db = tmp_path / "term.db"
    server = CountingServer(delay=0.15)
    with serve(server.app) as url:
        proc = _start_and_wait(_scan(url, suite, db, "--concurrency", "2"), db, 5)
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM, stderr
        assert "Traceback" not in stderr
        assert f"continue with: harmscope scan --db {db} --resume latest" in stderr
        [(status, run_id)] = _rows(db, "SELECT status, run_id FROM runs")
        assert status == "stopped"
        assert _rows(db, "SELECT COUNT(*) FROM leases") == [(0,)], "released on stop"
        kept = _stored(db)
        assert 5 <= kept < N_CASES
        server.phase = "resume"
        done = _run("scan", "--db", str(db), "--resume", "latest", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["run_id"], out["status"], out["completed"]) == (run_id, "complete", N_CASES)
    assert _rows(db, "SELECT COUNT(*), COUNT(DISTINCT case_id) FROM responses") == [
        (N_CASES, N_CASES)
    ]
    resumed = server.prompts("resume")
    assert len(resumed) == len(set(resumed)) == N_CASES - kept, "only the unstored cases ran"
    first = set(server.prompts("first"))
    assert first | set(resumed) == {f"Request number {i:02d}" for i in range(N_CASES)}


# -- timeouts -----------------------------------------------------------------------------


def test_timeout_and_retries_flags_bound_a_hanging_endpoint(tmp_path: Path, suite: Path) -> None:
    calls: list[float] = []
    app = _hanging(calls)

    db = tmp_path / "hang.db"
    with serve(app) as url:
        t0 = time.monotonic()
        args = _scan(url, suite, db, "--limit", "3", "--timeout", "0.3", "--retries", "1")
        p = _run(*args, "--concurrency", "3", cwd=tmp_path)
        took = time.monotonic() - t0
    assert p.returncode == 1, p.stderr
    assert "all 3 requests failed (first: timeout after 0.3 s" in p.stderr
    assert len(calls) == 6, "one try and one retry per case"
    assert took < 60, f"took {took:.0f} s; the default would be 4 x 120 s per case"
    [(config,)] = _rows(db, "SELECT config FROM runs")
    stored = json.loads(str(config))
    assert (stored["timeout_s"], stored["retries"]) == (0.3, 1)


# -- one-line errors that lose nothing -----------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"text": "x", "label": "safe", "category": 12}, "category must be a string"),
        ({"text": "x", "label": "safe", "tags": ["a"]}, "tags must be an object"),
        ('{"text": "x\\ud800", "label": "safe"}', "lone surrogate"),
        ('{"text": "x", "label": "safe", "n": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested"),
    ],
)
def test_bad_suite_lines_are_one_line_errors_before_anything_is_stored(
    tmp_path: Path, line: object, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    text = line if isinstance(line, str) else json.dumps(line)
    path.write_text('{"text": "fine", "label": "safe"}\n' + text + "\n", "utf-8")
    db = tmp_path / "bad.db"
    p = _run(*_scan("http://127.0.0.1:9", path, db), cwd=tmp_path)
    error = _one_line_error(p)
    assert f"{path}:2:" in error and message in error
    assert not db.exists(), "nothing was created"


def test_resume_of_a_missing_store_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    p = _run("scan", "--db", "missing.db", "--resume", "latest", cwd=tmp_path)
    assert "missing.db: no such store" in _one_line_error(p)
    assert not (tmp_path / "missing.db").exists()


def test_an_unwritable_report_folder_keeps_the_complete_run_and_says_how_to_report(
    tmp_path: Path, suite: Path
) -> None:
    db = tmp_path / "rep.db"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    server = CountingServer()
    with serve(server.app) as url:
        args = _scan(url, suite, db, "--limit", "4")
        args[args.index("--report-dir") + 1] = str(blocker / "reports")
        p = _run(*args, cwd=tmp_path)
    error = _one_line_error(p)
    [(run_id, status)] = _rows(db, "SELECT run_id, status FROM runs")
    assert status == "complete" and _stored(db) == 4
    assert f"run {run_id} is complete in {db}" in error
    later = f"harmscope report --db {db} --out DIR {run_id}"
    assert later in error
    fixed = _run(*later.split()[1:-3], "--out", str(tmp_path / "ok"), run_id, cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert any((tmp_path / "ok").iterdir()), "the advised command writes the report"


def test_a_missing_output_folder_is_a_one_line_error_naming_the_path(
    tmp_path: Path, suite: Path
) -> None:
    out = tmp_path / "no" / "such" / "paths.jsonl"
    p = _run(
        "attack",
        "--target",
        "echo/refuse",
        "--suite",
        str(suite),
        "--limit",
        "1",
        "--transforms",
        "prefix.sure",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    error = _one_line_error(p)
    assert str(out) in error and "No such file or directory" in error


# -- read-only stores (file permissions do not bind root: those runs drop to 'nobody') -------


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder an unprivileged user can enter (pytest's own tmp folders are private)."""
    path = Path(tempfile.mkdtemp(prefix="harmscope-ro-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        for p in sorted(path.rglob("*"), reverse=True):
            p.chmod(0o777) if p.is_dir() else None
        subprocess.run(["rm", "-rf", str(path)], check=False)


def _unprivileged(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run harmscope as a user file permissions apply to."""
    prefix: list[str] = []
    env = {**scan_env(), "HOME": str(cwd)}
    if os.geteuid() == 0:
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", "import harmscope"], cwd=cwd, env=env,
            capture_output=True, timeout=60,
        )  # fmt: skip
        if probe.returncode != 0:  # the checkout sits in a folder only root may enter
            pytest.skip("user nobody cannot read this checkout to run harmscope")
    return subprocess.run(
        [*prefix, *HARMSCOPE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _echo_scan(suite: Path, db: Path) -> list[str]:
    return scan_args("echo/refuse", suite, db, "--limit", "4")


def test_a_read_only_store_file_is_a_one_line_error_and_keeps_its_runs(
    shared_dir: Path, suite: Path
) -> None:
    local = shared_dir / "suite.jsonl"
    local.write_bytes(suite.read_bytes())
    local.chmod(0o644)
    db = shared_dir / "ro.db"
    first = _run(*_echo_scan(local, db), cwd=shared_dir)
    assert first.returncode == 0, first.stderr
    before = _rows(db, "SELECT run_id, status FROM runs")
    db.chmod(0o444)
    p = _unprivileged(*_echo_scan(local, db), cwd=shared_dir)
    error = _one_line_error(p)
    assert str(db) in error and ("not writable" in error or "readonly" in error)
    assert _rows(db, "SELECT run_id, status FROM runs") == before, "nothing already done lost"


def test_a_store_in_a_read_only_folder_is_a_one_line_error(shared_dir: Path, suite: Path) -> None:
    local = shared_dir / "suite.jsonl"
    local.write_bytes(suite.read_bytes())
    local.chmod(0o644)
    locked = shared_dir / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    p = _unprivileged(*_echo_scan(local, locked / "runs.db"), cwd=shared_dir)
    error = _one_line_error(p)
    assert str(locked / "runs.db") in error and "writable" in error


def test_attack_takes_the_timeout_and_retries_flags(tmp_path: Path, suite: Path) -> None:
    calls: list[float] = []
    app = _hanging(calls)

    with serve(app) as url:
        t0 = time.monotonic()
        p = _run(
            "attack",
            "--target",
            "openai/stand-in",
            "--base-url",
            f"{url}/v1",
            "--suite",
            str(suite),
            "--limit",
            "1",
            "--transforms",
            "prefix.sure",
            "--timeout",
            "0.3",
            "--retries",
            "0",
            "--json",
            "--out",
            str(tmp_path / "paths.jsonl"),
            cwd=tmp_path,
        )
        took = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    row = json.loads((tmp_path / "paths.jsonl").read_text().splitlines()[0])
    assert row["path"][0]["error"].startswith("timeout after 0.3 s")
    assert len(calls) == row["requests"] and took < 60
