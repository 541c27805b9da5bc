"""``harmscope cards``: Risk Cards of a stored run, as Markdown or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from harmscope.cli._common import out, print_json
from harmscope.cli._options import DbOption, JsonOption, JudgeErrorOption, RedactOption
from harmscope.store import DEFAULT_DB

__all__ = ["cards"]


def cards(
    run: Annotated[str, typer.Argument(help="Run id or 'latest'.")] = "latest",
    db: DbOption = Path(DEFAULT_DB),
    scenario: Annotated[
        Path | None, typer.Option(help="Deployment scenario YAML with thresholds.")
    ] = None,
    fmt: Annotated[Literal["md", "json"], typer.Option("--format", help="md or json.")] = "md",
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for the cards file (created if missing; the run's cards file in it "
            "is replaced).",
        ),
    ] = Path("harmscope-reports"),
    examples: Annotated[int, typer.Option(min=0, help="Run examples per harm card.")] = 3,
    over_refusal_examples: Annotated[
        int, typer.Option(min=0, help="Refused safe cases listed per over-refusal card.")
    ] = 10,
    judge_error: JudgeErrorOption = None,
    redact: RedactOption = True,
    all_cards: Annotated[
        bool, typer.Option("--all", help="Include cards with no case in the run.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write the Risk Cards of a run, filled with its evidence, to <out>/<run>.cards.<fmt>.

    The file is written atomically; a bad --out fails before the store is read.
    """
    from harmscope.cards import build_cards, load_judge_error, load_scenario, write_cards
    from harmscope.cli.runs import _open
    from harmscope.fsutil import check_output_dir
    from harmscope.runner import summarize

    check_output_dir(out_dir, create=False)
    scen = load_scenario(scenario) if scenario else None
    jerr = load_judge_error(judge_error) if judge_error else None
    with _open(db) as store:
        summary = summarize(store, run)
        results = store.results(summary.run_id)
    built = build_cards(
        summary,
        results,
        scenario=scen,
        examples=examples,
        over_refusal_examples=over_refusal_examples,
        redact=redact,
        judge_error=jerr,
        measured_only=not all_cards,
    )
    path = write_cards(built, out_dir, fmt=fmt, stem=f"{summary.run_id}.cards")
    assessed = {c.id: c.assessment.within_threshold for c in built if c.assessment is not None}
    if as_json:
        print_json(
            {"run_id": summary.run_id, "cards": len(built), "path": str(path), "within": assessed}
        )
        return
    failing = [k for k, v in assessed.items() if v is False]
    out.print(f"wrote {len(built)} cards of run {summary.run_id} to {path}", highlight=False)
    if scen is not None:
        out.print(
            f"scenario {scen.name}: {len(failing)} card(s) exceed their threshold"
            + (f" ({', '.join(failing)})" if failing else ""),
            highlight=False,
            soft_wrap=True,
        )
