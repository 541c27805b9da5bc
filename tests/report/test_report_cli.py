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


def test_comparison_of_three_runs_shows_what_differs(tmp_path):
    """Three runs of the same cases: B adds a system prompt, C also adds a transform list and
    a longer generation; the page names exactly those settings as differing."""
    from report_helpers import FIRST, run_cases

    from harmscope.config import RunConfig
    from harmscope.records import GenerationParams
    from harmscope.store import SQLiteStore

    plain = GenerationParams(max_new_tokens=64)
    base = RunConfig(target="echo/repeat", concurrency=2, judge_check=None, params=plain)
    prompt = plain.model_copy(update={"system_prompt": "Refuse harmful requests."})
    configs = [
        base,
        base.model_copy(update={"params": prompt}),
        base.model_copy(
            update={
                "params": prompt.model_copy(update={"max_new_tokens": 128}),
                "transforms": ("prefix.sure", "encode"),
            }
        ),
    ]
    with SQLiteStore(tmp_path / "three.db") as store:
        ids = [run_cases(store, FIRST, config=c).run_id for c in configs]
    r = CliRunner().invoke(app, [*ids, "--db", str(tmp_path / "three.db"), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    page = (tmp_path / f"compare-{ids[0]}-{ids[2]}.html").read_text()
    section = page.split('<section id="differs">')[1].split("</section>")[0]
    assert "The runs differ in: <b>system prompt, transforms, generation</b>" in section
    rows = section.split("<tr")[2:]
    differing = [row for row in rows if 'class="differs"' in row]
    assert len(differing) == 3, "only the three changed settings are marked"
    sysrow = next(row for row in differing if "system prompt" in row)
    assert sysrow.count("<b>none</b>") == 1 and sysrow.count("<b>Refuse harmful requests.</b>") == 2
    trow = next(row for row in differing if "</span> transforms" in row)
    assert "<b>prefix.sure, encode</b>" in trow and trow.count("<b>none</b>") == 2
    gen = next(row for row in differing if "generation" in row)
    assert gen.count("max_new_tokens 64") == 2 and gen.count("max_new_tokens 128") == 1
    same = {row.split("<td>")[1].split("</td>")[0] for row in rows if 'class="same"' in row}
    assert {"target", "suite", "judge", "judges", "multi-turn"} <= same, same


def test_run_page_shows_the_stored_configuration(tmp_path):
    from report_helpers import FIRST, run_cases

    from harmscope.config import RunConfig
    from harmscope.records import GenerationParams
    from harmscope.store import SQLiteStore

    config = RunConfig(
        target="echo/repeat",
        concurrency=2,
        transforms=("prefix.sure",),
        params=GenerationParams(max_new_tokens=32, system_prompt="Be <b>safe</b>."),
    )
    with SQLiteStore(tmp_path / "one.db") as store:
        run_id = run_cases(store, FIRST, config=config).run_id
    r = CliRunner().invoke(app, [run_id, "--db", str(tmp_path / "one.db"), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    page = (tmp_path / f"{run_id}.html").read_text()
    table = page.split('<table class="compact" id="settings">')[1].split("</table>")[0]
    assert "<td>system prompt</td><td>Be &lt;b&gt;safe&lt;/b&gt;.</td>" in table
    assert "<td>transforms</td><td>prefix.sure</td>" in table
    assert "max_new_tokens 32" in table
