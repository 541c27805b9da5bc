"""Judges and targets from outside harmscope, chosen by name on the command line.

One judge is registered in-process through the registry API and the CLI is invoked with
typer's ``CliRunner``; a second judge and a target come from a synthetic installed
distribution (a ``.dist-info`` folder with ``entry_points.txt`` on ``PYTHONPATH``), exactly as a
pip-installed plugin would be found, and are used by a real ``harmscope`` process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harmscope.cli import app
from harmscope.judges import registry as judges
from harmscope.records import Case, Response, Verdict

HARMSCOPE = [sys.executable, "-m", "harmscope.cli"]

# (prompt, label): with a target that repeats the prompt and a judge that calls any answer
# shorter than 20 characters a refusal, 1 of 3 unsafe prompts is "refused" (compliance 2/3)
# and 1 of 2 safe prompts is "refused" (over-refusal 1/2).
PROMPTS = [
    ("Short one", "unsafe"),
    ("A considerably longer unsafe prompt text", "unsafe"),
    ("Another quite long unsafe request here", "unsafe"),
    ("Tiny", "safe"),
    ("A long and perfectly harmless question here?", "safe"),
]


class LengthJudge:
    """Calls an answer shorter than ``limit`` characters a refusal (a plugin stand-in)."""

    id = "lengthy@1"

    def __init__(self, limit: int) -> None:
        self.limit = limit

    async def judge(self, case: Case, response: Response) -> Verdict:
        text = response.text or ""
        label = "full_refusal" if len(text) < self.limit else "full_compliance"
        return Verdict(case_id=case.id, judge_id=self.id, refusal=label)


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    path = tmp_path / "five.jsonl"
    lines = [json.dumps({"text": t, "label": label}) + "\n" for t, label in PROMPTS]
    path.write_text("".join(lines), "utf-8")
    return path


def _check_rates(out: dict, judge_id: str) -> None:  # type: ignore[type-arg]
    assert out["judges"] == [judge_id]
    m = out["metrics"]
    assert (m["unsafe_compliance_rate"]["value"], m["unsafe_compliance_rate"]["n"]) == (2 / 3, 3)
    assert (m["over_refusal_rate"]["value"], m["over_refusal_rate"]["n"]) == (0.5, 2)


def _stored_judges(db: Path) -> set[str]:
    con = sqlite3.connect(db)
    try:
        return {row[0] for row in con.execute("SELECT DISTINCT judge_id FROM verdicts")}
    finally:
        con.close()


def test_judge_registered_in_process_is_selected_by_scan(
    tmp_path: Path, suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[int] = []

    def create(limit: str = "10") -> LengthJudge:
        made.append(int(limit))
        return LengthJudge(int(limit))

    monkeypatch.setitem(judges._items, "lengthy", create)  # removed again after the test
    judges.register("lengthy")(create)  # the public API; the line above only undoes it
    db = tmp_path / "p.db"
    result = CliRunner().invoke(
        app,
        [
            "scan",
            "--target",
            "echo/repeat",
            "--suite",
            str(suite),
            "--judge",
            "lengthy:limit=20",
            "--judge-check",
            "none",
            "--db",
            str(db),
            "--report-dir",
            str(tmp_path / "reports"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert made == [20], "the judge was built once, with the option from the command line"
    _check_rates(json.loads(result.stdout), "lengthy@1")
    assert _stored_judges(db) == {"lengthy@1"}


PLUGIN_MODULE = """
from harmscope.records import Response, Verdict


class ShortJudge:
    id = "short@1"

    def __init__(self, limit):
        self.limit = int(limit)

    async def judge(self, case, response):
        label = "full_refusal" if len(response.text) < self.limit else "full_compliance"
        return Verdict(case_id=case.id, judge_id=self.id, refusal=label)


def create_judge(limit="20"):
    return ShortJudge(limit)


class ParrotTarget:
    def __init__(self, model):
        self.id = f"parrot/{model}"

    async def generate(self, messages, params, *, case_id=""):
        return Response(case_id=case_id, target_id=self.id, text=messages[-1].content)

    async def aclose(self):
        pass


def create_target(model, options):
    return ParrotTarget(model)
"""

ENTRY_POINTS = """[harmscope.judges]
short = plugdemo:create_judge
broken = plugdemo_missing:create

[harmscope.targets]
parrot = plugdemo:create_target
"""


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A folder holding an 'installed' plugin distribution: module plus dist-info."""
    site = tmp_path / "site"
    dist = site / "harmscope_plugdemo-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "plugdemo.py").write_text(PLUGIN_MODULE, "utf-8")
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: harmscope-plugdemo\nVersion: 0.1\n", "utf-8"
    )
    (dist / "entry_points.txt").write_text(ENTRY_POINTS, "utf-8")
    return site


def _harmscope(*args: str, cwd: Path, plugins: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(plugins)}
    return subprocess.run(
        [*HARMSCOPE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_entry_point_judge_and_target_are_used_by_scan(
    tmp_path: Path, suite: Path, plugin_path: Path
) -> None:
    p = _harmscope(
        "scan",
        "--target",
        "parrot/any",
        "--suite",
        str(suite),
        "--judge",
        "short",
        "--judge-check",
        "none",
        "--db",
        "ep.db",
        "--json",
        cwd=tmp_path,
        plugins=plugin_path,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["target"] == "parrot/any"
    _check_rates(out, "short@1")
    assert _stored_judges(tmp_path / "ep.db") == {"short@1"}


def test_entry_point_target_is_listed(tmp_path: Path, plugin_path: Path) -> None:
    p = _harmscope("targets", cwd=tmp_path, plugins=plugin_path)
    assert p.returncode == 0, p.stderr
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in p.stdout.splitlines()
        if line.count("│") == 3
    }
    assert rows["parrot"] == "plugin" and "openai" in rows


def test_broken_entry_point_is_a_one_line_error(
    tmp_path: Path, suite: Path, plugin_path: Path
) -> None:
    p = _harmscope(
        "scan",
        "--target",
        "echo/repeat",
        "--suite",
        str(suite),
        "--judge",
        "broken",
        cwd=tmp_path,
        plugins=plugin_path,
    )
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("error: judge plugin 'broken' (plugdemo_missing:create) failed")
    assert "No module named 'plugdemo_missing'" in p.stderr and "Traceback" not in p.stderr
