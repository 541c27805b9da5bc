"""``harmscope transforms`` lists every registered transform, by family, as scripts see it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from harmscope.transforms import families, list_transforms

HARMSCOPE = [sys.executable, "-m", "harmscope.cli"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}  # a narrow terminal: ids must still stay whole
    return subprocess.run([*HARMSCOPE, *args], capture_output=True, text=True, timeout=60, env=env)


def test_json_lists_every_transform_with_its_family_and_description() -> None:
    p = _run("transforms", "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    expected = {t.id: (t.family, t.description) for t in list_transforms()}
    assert {r["id"]: (r["family"], r["description"]) for r in data["transforms"]} == expected
    assert data["families"] == {f: len(ids) for f, ids in families().items()}
    assert all(r["id"].startswith(r["family"] + ".") for r in data["transforms"])


def test_a_family_filter_and_an_unknown_family() -> None:
    p = _run("transforms", "--family", "encode", "--json")
    ids = [r["id"] for r in json.loads(p.stdout)["transforms"]]
    assert ids == families()["encode"] and ids
    bad = _run("transforms", "--family", "nope")
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown transform family 'nope'")
    assert "Traceback" not in bad.stderr


def test_table_names_each_transform() -> None:
    p = _run("transforms")
    assert p.returncode == 0, p.stderr
    for t in list_transforms():
        assert t.id in p.stdout
