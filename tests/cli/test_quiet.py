"""Third-party progress bars stay off the terminal unless ``--verbose`` (real MiniLM load)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harmscope.cli import QUIET_ENV

HARMSCOPE = [sys.executable, "-m", "harmscope.cli"]


def _guard_eval(tmp_path: Path, *root: str) -> subprocess.CompletedProcess[str]:
    data = tmp_path / "two.jsonl"
    rows = [{"text": "hello there", "label": "safe"}, {"text": "a pipe bomb", "label": "unsafe"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENV}
    return subprocess.run(
        [*HARMSCOPE, *root, "guard", "eval", "--data", str(data), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.mark.model
def test_library_progress_bars_only_with_verbose(tmp_path: Path) -> None:
    quiet = _guard_eval(tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["n"] == 2
    assert "Loading weights" not in quiet.stderr and "it/s" not in quiet.stderr, quiet.stderr
    loud = _guard_eval(tmp_path, "--verbose")
    assert loud.returncode == 0, loud.stderr
    assert "Loading weights" in loud.stderr, "the check above can see the bar when it is on"
