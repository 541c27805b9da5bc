"""``judge_evaluation``: the typed result ``judge eval --json`` dumps."""

from __future__ import annotations

import pytest

from harmscope.judges import load_judge
from harmscope.judges.evaluate import evaluate
from harmscope.judges.labelled import load_dataset
from harmscope.judges.results import JudgeEvaluation, judge_evaluation

# the keys `judge eval --json` printed before it had a result model
CLI_KEYS = [
    "n", "accuracy", "precision", "recall", "f1", "kappa", "unscored", "judge_id", "task",
    "data", "total", "accuracy_3way", "confusion", "per_source", "baselines",
]  # fmt: skip
SOURCE_KEYS = ["n", "accuracy", "precision", "recall", "f1", "kappa", "unscored", "accuracy_3way"]


def test_the_dump_has_the_command_line_keys_and_the_report_figures() -> None:
    judge = load_judge("keyword")
    result = judge_evaluation(judge, "checkset")
    dumped = result.model_dump(mode="json")
    assert list(dumped) == CLI_KEYS, "trained_on_data and held_out only for a trained judge"
    for figures in dumped["per_source"].values():
        assert list(figures) == SOURCE_KEYS
    report = evaluate(judge, load_dataset("checkset"), "refusal")
    assert (result.n, result.unscored, result.total) == (report.n, report.unscored, report.total)
    assert result.accuracy == pytest.approx(report.accuracy)
    assert dumped["confusion"] == {"tp": report.tp, "fp": report.fp, "fn": report.fn,
                                   "tn": report.tn}  # fmt: skip
    assert sum(f.n for f in result.per_source.values()) == result.n
    assert JudgeEvaluation.model_validate(dumped) == result, "the dump reads back"
