import json

import typer
from typer.testing import CliRunner

from harmscope.cli.cards import cards

app = typer.Typer()
app.command()(cards)


def test_cards_command_writes_markdown_and_json(hate_run, tmp_path):
    store, summary = hate_run
    db = store.path
    scen = tmp_path / "s.yaml"
    scen.write_text("name: s\ncategories: [hate]\nthresholds: {max_unsafe_compliance: 0.05}\n")
    out = tmp_path / "out"
    r = CliRunner().invoke(
        app, ["latest", "--db", db, "--scenario", str(scen), "--out", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["run_id"] == summary.run_id and info["cards"] == 10
    assert info["within"]["harmscope.hate"] is False
    assert info["within"]["harmscope.privacy"] is None
    md = (out / f"{summary.run_id}.cards.md").read_text()
    assert "### Scenario `s`: NOT within threshold" in md

    r = CliRunner().invoke(
        app, [summary.run_id, "--db", db, "--format", "json", "--out", str(out), "--all"]
    )
    assert r.exit_code == 0, r.output
    data = json.loads((out / f"{summary.run_id}.cards.json").read_text())
    assert len(data["cards"]) == 69


def test_unknown_run_is_a_harmscope_error(hate_run, tmp_path):
    store, _ = hate_run
    r = CliRunner().invoke(app, ["nope", "--db", store.path, "--out", str(tmp_path)])
    assert r.exit_code != 0 and "no run 'nope'" in str(r.exception)
