"""Pieces the command-line scan tests share: a suite file, scan arguments, a running scan."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HARMSCOPE = [sys.executable, "-m", "harmscope.cli"]


def scan_env() -> dict[str, str]:
    """The environment for a ``harmscope`` subprocess (wide enough for one-line messages)."""
    return {**os.environ, "COLUMNS": "200"}


def numbered_suite(path: Path, n: int) -> Path:
    """Write ``n`` cases "Request number NN" (odd ones unsafe) to ``path``; return it."""
    lines = [
        {"text": f"Request number {i:02d}", "label": "unsafe" if i % 2 else "safe"}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), "utf-8")
    return path


def scan_args(target: str, suite: Path, db: Path, *extra: str) -> list[str]:
    """``scan`` arguments for ``target`` on ``suite`` into ``db``, no judge check."""
    return [
        "scan",
        "--target",
        target,
        "--suite",
        str(suite),
        "--judge-check",
        "none",
        "--db",
        str(db),
        "--report-dir",
        str(db.parent / "reports"),
        *extra,
    ]


def openai_scan(model: str, base_url: str, suite: Path, db: Path, *extra: str) -> list[str]:
    """``scan`` arguments against an OpenAI-compatible loopback server, no judge check."""
    return scan_args(f"openai/{model}", suite, db, "--base-url", base_url, *extra)


def stored_by_case(db: Path) -> dict[str, int]:
    """Committed response rows per case id (every run in ``db``); empty before the schema."""
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT case_id, COUNT(*) FROM responses GROUP BY case_id")
        return dict(rows.fetchall())
    except sqlite3.OperationalError:  # the file exists but its tables are not created yet
        return {}
    finally:
        con.close()


def start_and_wait(cmd: list[str], db: Path, at_least: int) -> subprocess.Popen[str]:
    """Start ``cmd``; return once ``at_least`` cases have a response in ``db`` (still running).

    The process is killed and its pipes closed if waiting fails for any reason, so a failed
    wait never leaves a running scan or an open pipe behind for a later test to trip over.
    """
    proc = subprocess.Popen(
        cmd,
        cwd=db.parent,
        env=scan_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(stored_by_case(db)) < at_least:
            if proc.poll() is not None:
                _, stderr = proc.communicate()
                raise AssertionError(f"scan ended early ({proc.returncode}): {stderr}")
            if time.monotonic() > deadline:
                raise AssertionError("no responses were stored in time")
            time.sleep(0.03)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc
