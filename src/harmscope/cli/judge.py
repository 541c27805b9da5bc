"""``harmscope judge``: measure a judge against human labels."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from harmscope.cli._common import err, out, print_json

__all__ = ["app"]

app = typer.Typer(
    name="judge",
    help="Judge meta-evaluation against labelled responses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """Judge meta-evaluation against labelled responses."""


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


_KEYS = ("n", "accuracy", "precision", "recall", "f1", "kappa")


def _summary(report: Any) -> dict[str, Any]:
    """The DESIGN.md figures of a report (judge, source or stored baseline)."""
    return {k: getattr(report, k) for k in _KEYS} | {"unscored": getattr(report, "unscored", 0)}


def _held_out(judge: Any, task: str) -> dict[str, Any]:
    """Held-out figures a trained judge (or its members) recorded for ``task``, by judge id."""
    found = {}
    for member in (judge, *getattr(judge, "judges", ())):
        meta = getattr(member, "meta", None)
        if isinstance(meta, dict) and isinstance(meta.get(task), dict):
            found[str(member.id)] = meta[task].get("held_out")
    return found


def _table(report: Any, data: str) -> None:
    from rich.table import Table

    table = Table(title=f"{report.judge_id} on {data} ({report.task})")
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
    rows = [("all", report)] + list(report.per_source.items())
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
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run a judge on labelled responses; report accuracy, precision, recall, F1 and kappa."""
    from harmscope.errors import HarmscopeError
    from harmscope.judges import load_judge
    from harmscope.judges.evaluate import evaluate, trained_on_data
    from harmscope.judges.labelled import load_dataset

    if task not in ("refusal", "harm"):
        raise HarmscopeError(f"--task must be refusal or harm, not {task!r}")
    items = load_dataset(data)
    built = load_judge(judge)
    seen = trained_on_data(built, data, task)  # type: ignore[arg-type]
    if seen:
        err.print(
            f"warning: {', '.join(seen)} was trained on {data}: these figures are in-sample and "
            "flatter it; its held-out figures are in its training metadata.",
            style="yellow",
            highlight=False,
        )
    err.print(f"judging {len(items)} responses with {built.id}", highlight=False)
    report = evaluate(built, items, task)  # type: ignore[arg-type]
    if json_out:
        payload = _summary(report)
        payload.update(
            judge_id=report.judge_id,
            task=report.task,
            data=data,
            total=report.total,
            accuracy_3way=report.accuracy_3way,
            confusion={"tp": report.tp, "fp": report.fp, "fn": report.fn, "tn": report.tn},
            per_source={k: _summary(v) | {"accuracy_3way": v.accuracy_3way}
                        for k, v in report.per_source.items()},
            baselines={k: _summary(v) for k, v in report.baselines.items()},
        )  # fmt: skip
        if seen:
            payload["trained_on_data"] = seen
            payload["held_out"] = _held_out(built, task)
        print_json(payload)
    else:
        _table(report, data)
