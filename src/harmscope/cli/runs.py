"""``harmscope runs``, ``report`` and ``export``: read stored runs.

Output destinations are checked before the store is opened, so a bad one fails with a
one-line error and nothing is read or written. A report folder (``--out DIR``) is created
with any missing parents; a named file (``report --out FILE.html``, ``export -o FILE``) needs
its folder to exist. Every file is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harmscope.cli._common import out, print_json
from harmscope.cli._options import DbOption, JsonOption, JudgeErrorOption, RedactOption
from harmscope.store import DEFAULT_DB

__all__ = ["export", "list_runs", "report"]


def _open(db: Path):  # type: ignore[no-untyped-def]
    from harmscope.errors import NotFoundError
    from harmscope.store import SQLiteStore

    if not db.exists():
        raise NotFoundError(f"no store at {db} (run harmscope scan first, or pass --db)")
    return SQLiteStore(db)


def list_runs(
    db: DbOption = Path(DEFAULT_DB),
    as_json: JsonOption = False,
) -> None:
    """List stored runs, newest first."""
    with _open(db) as store:
        runs = store.runs()
    if as_json:
        print_json({"runs": [r.model_dump(mode="json") for r in runs]})
        return
    table = Table("run", "created", "status", "target", "suite", "judges")
    for r in runs:
        table.add_row(
            r.run_id, r.created_at, r.status, r.target_id, r.suite_ref, ", ".join(r.judges)
        )
    out.print(table)


def report(
    runs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="RUN...", help="Run ids or 'latest'; two or more give a comparison page."
        ),
    ] = None,
    db: DbOption = Path(DEFAULT_DB),
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            "--report-dir",
            help="Folder for the HTML page (created if missing; a page of the same run in it "
            "is replaced), or a .html file name (its folder must exist).",
        ),
    ] = Path("harmscope-reports"),
    scenario: Annotated[
        Path | None, typer.Option(help="Deployment scenario YAML to read the cards against.")
    ] = None,
    judge_error: JudgeErrorOption = None,
    redact: RedactOption = True,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing file named by --out FILE.html.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Render stored runs: terminal table, JSON, and the HTML report (or comparison)."""
    from harmscope.cards import load_judge_error, load_scenario
    from harmscope.report import render_summary, write_comparison, write_html
    from harmscope.runner import summarize

    ids = runs or ["latest"]
    out_dir, filename = _report_destination(out_dir, force=force)
    scen = load_scenario(scenario) if scenario else None
    jerr = load_judge_error(judge_error) if judge_error else None
    with _open(db) as store:
        summaries = [summarize(store, r) for r in ids]
        results = [store.results(s.run_id) for s in summaries]
        configs = [store.run(s.run_id).config for s in summaries]
    errors = [
        jerr if jerr is None or jerr.judge_id in (None, s.metrics.judge_id) else None
        for s in summaries
    ]
    if len(summaries) == 1:
        path = write_html(
            summaries[0],
            results[0],
            out_dir,
            scenario=scen,
            judge_error=errors[0],
            redact=redact,
            config=configs[0],
            filename=filename,
        )
    else:
        path = write_comparison(
            summaries, results, out_dir, judge_errors=errors, configs=configs, filename=filename
        )
    if as_json:
        if len(summaries) == 1:
            print_json({**summaries[0].model_dump(mode="json"), "report": str(path)})
        else:
            print_json(
                {"runs": [s.model_dump(mode="json") for s in summaries], "report": str(path)}
            )
        return
    for s in summaries:
        out.print(render_summary(s))
    out.print(f"report: [bold]{path}[/]", highlight=False, soft_wrap=True)


def _report_destination(out: Path, *, force: bool) -> tuple[Path, str | None]:
    """``(folder, file name or None for the default)`` of ``report --out``.

    Raises:
        OutputError: A file that is not ``.html``, an existing ``.html`` file without
            ``force``, or a destination that cannot be written.
    """
    from harmscope.errors import OutputError
    from harmscope.fsutil import check_output_dir, check_output_file

    if out.suffix.lower() == ".html" and not out.is_dir():
        check_output_file(out, overwrite=force)
        return out.parent, out.name
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: is a file; --out takes a folder or a .html file name")
    return check_output_dir(out, create=False), None


def export(
    run: Annotated[str, typer.Argument(help="Run id or 'latest'.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="File .jsonl or .parquet; its folder must exist. An existing file is replaced.",
        ),
    ],
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Export a run, one row per case, to JSONL or Parquet (written atomically)."""
    from harmscope.errors import DataError
    from harmscope.fsutil import check_output_file
    from harmscope.store import export_run

    if output.suffix.lower() not in {".jsonl", ".parquet"}:
        raise DataError(f"{output}: export to .jsonl or .parquet")
    check_output_file(output)
    with _open(db) as store:
        run_id = store.run(run).run_id
        n = export_run(store, run_id, output)
    out.print(f"wrote {n} rows of run {run_id} to {output}", highlight=False)
