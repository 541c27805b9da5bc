"""Evaluation metrics against hand-computed values, data loading, the card."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from guard_helpers import TableDetector

from harmscope.errors import DataError
from harmscope.guard import Guard
from harmscope.guard.data import LabelledText, load_labelled_file, split_of
from harmscope.guard.evaluate import (
    average_precision,
    detection_metrics,
    evaluate_guard,
    render_card,
    write_card,
)


def test_detection_metrics_by_hand() -> None:
    y = [True, True, False, False, False, True]
    p = [True, False, True, False, False, True]
    m = detection_metrics(y, p)
    assert (m.tp, m.fn, m.fp, m.tn) == (2, 1, 1, 2)
    assert m.accuracy == pytest.approx(4 / 6)
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(2 / 3)
    assert m.fpr == pytest.approx(1 / 3)


def test_detection_metrics_degenerate_cases() -> None:
    m = detection_metrics([False, False], [False, False], [0.1, 0.2])
    assert m.precision is None and m.recall is None and m.f1 is None, "undefined is not zero"
    assert m.fpr == 0.0
    assert m.auprc is None, "one class only"


def test_average_precision_by_hand() -> None:
    # 0.9 (+): R=1/3 P=1; 0.8 (-); 0.7 (+): R=2/3 P=2/3; 0.4 (+): R=1 P=3/4
    ap = average_precision([True, False, True, True, False], [0.9, 0.8, 0.7, 0.4, 0.3])
    assert ap == pytest.approx(1 / 3 + (1 / 3) * (2 / 3) + (1 / 3) * (3 / 4))
    # ties share one threshold: 0.5 -> R=1/2 P=1/2; 0.2 -> R=1 P=2/3
    assert average_precision([True, False, True], [0.5, 0.5, 0.2]) == pytest.approx(
        0.25 + 0.5 * 2 / 3
    )


def test_average_precision_matches_scikit_learn() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(7)
    y = [rng.random() < 0.3 for _ in range(200)]
    s = [round(rng.random(), 2) for _ in range(200)]  # rounded: many ties
    assert average_precision(y, s) == pytest.approx(sklearn_metrics.average_precision_score(y, s))


def test_evaluate_guard_reports_metrics_and_over_blocking(tmp_path: Path) -> None:
    rows = [
        LabelledText("u1", True), LabelledText("u2", True), LabelledText("s1", False),
        LabelledText("s2", False), LabelledText("s3", False),
    ]  # fmt: skip
    det = TableDetector({"u1": 0.9, "u2": 0.3, "s1": 0.8, "s2": 0.1, "s3": 0.2})
    guard = Guard([det], normalize_text=False)
    guard.policy = guard.policy.model_copy(update={"any_threshold": 0.5})
    import asyncio

    result = asyncio.run(evaluate_guard(guard, {"mini": rows}))
    m = result["sets"]["mini"]
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 1, 1, 2)
    assert m["over_blocking"] == pytest.approx(1 / 3)
    # ranking 0.9(+) 0.8(-) 0.3(+): AP = 1/2*1 + 1/2*2/3
    assert m["auprc"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert m["latency_ms_per_text"] > 0
    card = render_card(result)
    assert "| mini | 5 |" in card
    md, js = write_card(result, tmp_path / "card")
    assert md.read_text().startswith("# Guard card")
    assert json.loads(js.read_text())["result"]["sets"]["mini"]["n"] == 5


def test_labelled_file_reader(tmp_path: Path) -> None:
    f = tmp_path / "d.jsonl"
    f.write_text(
        '{"text": "a", "label": "unsafe", "category": "hate"}\n\n{"prompt": "b", "label": "safe"}\n'
    )
    rows = load_labelled_file(f)
    assert [(r.text, r.unsafe, r.category) for r in rows] == [
        ("a", True, "hate"),
        ("b", False, None),
    ]
    f.write_text('{"text": "a", "label": "maybe"}\n')
    with pytest.raises(DataError, match=":1"):
        load_labelled_file(f)
    f.write_text("{not json\n")
    with pytest.raises(DataError, match="invalid JSON"):
        load_labelled_file(f)


def test_splits_are_stable_and_hold_out_evaluation_sets() -> None:
    assert split_of("anything", "xstest") == "test"
    assert split_of("Some  TEXT", "advbench") == split_of("some text", "harmbench")
    assert split_of("x", "openai-moderation-dev") in {"val", "test"}
    buckets = [split_of(f"text {i}", "advbench") for i in range(2000)]
    assert 0.45 < buckets.count("train") / 2000 < 0.55
