import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from harmscope.cli.runs import report

app = typer.Typer()
app.command()(report)


def test_one_run_gives_a_run_page(two_runs, tmp_path):
    store, first, second = two_runs
    je = tmp_path / "eval.json"
    je.write_text('{"n": 50, "precision": 0.9, "recall": 0.7}')
    args = [first.run_id, "--db", store.path, "--out", str(tmp_path), "--json"]
    r = CliRunner().invoke(app, [*args, "--judge-error", str(je)])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["run_id"] == first.run_id and info["report"].endswith(f"{first.run_id}.html")
    page = Path(info["report"]).read_text()
    assert "0.700" in page and "eval.json" in page
    latest = CliRunner().invoke(app, ["--db", store.path, "--out", str(tmp_path), "--json"])
    assert json.loads(latest.stdout)["run_id"] == second.run_id, "default is the latest run"


def test_several_runs_give_a_comparison_page(two_runs, tmp_path):
    store, first, second = two_runs
    r = CliRunner().invoke(
        app, [first.run_id, "latest", "--db", store.path, "--report-dir", str(tmp_path), "--json"]
    )
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert [x["run_id"] for x in info["runs"]] == [first.run_id, second.run_id]
    assert info["report"].endswith(f"compare-{first.run_id}-{second.run_id}.html")
    r = CliRunner().invoke(
        app, [first.run_id, second.run_id, "--db", store.path, "--out", str(tmp_path)]
    )
    assert r.exit_code == 0 and "report:" in r.stdout
