"""``harmscope runs``, ``report`` and ``export``: read stored runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harmscope.cli._common import out, print_json
from harmscope.store import DEFAULT_DB

__all__ = ["export", "list_runs", "report"]

DbOption = Annotated[Path, typer.Option(help="SQLite store file.")]


def _open(db: Path):  # type: ignore[no-untyped-def]
    from harmscope.errors import NotFoundError
    from harmscope.store import SQLiteStore

    if not db.exists():
        raise NotFoundError(f"no store at {db} (run harmscope scan first, or pass --db)")
    return SQLiteStore(db)


def list_runs(
    db: DbOption = Path(DEFAULT_DB),
    as_json: Annotated[bool, typer.Option("--json")] = False,
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
    run: Annotated[str, typer.Argument(help="Run id or 'latest'.")] = "latest",
    db: DbOption = Path(DEFAULT_DB),
    report_dir: Annotated[Path, typer.Option()] = Path("harmscope-reports"),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Render a stored run: terminal table, JSON, and the HTML report."""
    from harmscope.report import render_summary, write_html
    from harmscope.runner import summarize

    with _open(db) as store:
        summary = summarize(store, run)
        results = store.results(summary.run_id)
    path = write_html(summary, results, report_dir)
    if as_json:
        print_json({**summary.model_dump(mode="json"), "report": str(path)})
        return
    out.print(render_summary(summary))
    out.print(f"report: [bold]{path}[/]", highlight=False, soft_wrap=True)


def export(
    run: Annotated[str, typer.Argument(help="Run id or 'latest'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File .jsonl or .parquet.")],
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Export a run, one row per case, to JSONL or Parquet."""
    from harmscope.store import export_run

    with _open(db) as store:
        run_id = store.run(run).run_id
        n = export_run(store, run_id, output)
    out.print(f"wrote {n} rows of run {run_id} to {output}", highlight=False)
