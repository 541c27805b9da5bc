"""Pieces the command-line scan tests share: a numbered suite file and the scan arguments."""

from __future__ import annotations

import json
from pathlib import Path


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
