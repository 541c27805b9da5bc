"""``harmscope judge``: measure a judge against human labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from harmscope.cli._common import err, out, print_json
from harmscope.cli._options import JsonOption, sub_app

if TYPE_CHECKING:
    from harmscope.judges.results import JudgeEvaluation, SourceFigures

__all__ = ["app"]

app = sub_app("judge", "Judge meta-evaluation against labelled responses.")


@app.callback()
def _group() -> None:
    """Judge meta-evaluation against labelled responses."""


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table(report: JudgeEvaluation) -> None:
    from rich.table import Table

    table = Table(title=f"{report.judge_id} on {report.data} ({report.task})")
    for col in (
        "source",
        "n",
        "unscored",
        "acc",
        "3-way",
        "prec",
        "recall",
        "f1",
        "kappa",
    ):
        table.add_column(col, justify="left" if col == "source" else "right")
    rows: list[tuple[str, SourceFigures | JudgeEvaluation]] = [
        ("all", report),
        *report.per_source.items(),
    ]
    for name, r in rows:
        table.add_row(
            name,
            str(r.n),
            str(r.unscored),
            _fmt(r.accuracy),
            _fmt(r.accuracy_3way),
            _fmt(r.precision),
            _fmt(r.recall),
            _fmt(r.f1),
            _fmt(r.kappa),
        )
    for name, b in report.baselines.items():
        table.add_row(
            f"baseline {name}", str(b.n), str(b.unscored), _fmt(b.accuracy), "-", _fmt(b.precision),
            _fmt(b.recall), _fmt(b.f1), _fmt(b.kappa),
        )  # fmt: skip
    out.print(table)


@app.command("eval")
def eval_judge(
    judge: Annotated[
        str, typer.Option(help="Judge spec: keyword, embedding, llm:target=..., ensemble:...")
    ] = "keyword",
    data: Annotated[
        str, typer.Option(help="Labelled JSONL file, or xstest, harmbench-val, checkset.")
    ] = "checkset",
    task: Annotated[str, typer.Option(help="refusal or harm.")] = "refusal",
    json_out: JsonOption = False,
) -> None:
    """Run a judge on labelled responses; report accuracy, precision, recall, F1 and kappa."""
    from harmscope.errors import HarmscopeError
    from harmscope.judges import load_judge
    from harmscope.judges.results import judge_evaluation

    if task not in ("refusal", "harm"):
        raise HarmscopeError(f"--task must be refusal or harm, not {task!r}")
    built = load_judge(judge)
    err.print(f"judging the labelled responses of {data} with {built.id}", highlight=False)
    result = judge_evaluation(built, data, task)  # type: ignore[arg-type]
    if result.trained_on_data:
        err.print(
            f"warning: {', '.join(result.trained_on_data)} was trained on {data}: these figures "
            "are in-sample and flatter it; its held-out figures are in its training metadata.",
            style="yellow",
            highlight=False,
        )
    if json_out:
        print_json(result.model_dump(mode="json"))
    else:
        _table(result)
