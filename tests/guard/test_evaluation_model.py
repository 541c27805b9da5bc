"""The typed guard evaluation dumps exactly the keys ``guard eval --json`` always printed."""

from __future__ import annotations

import asyncio

from harmscope.guard import ANY, Guard
from harmscope.guard.data import LabelledText
from harmscope.guard.evaluate import GuardEvaluation, evaluate_guard, guard_evaluation


class Half:
    name = "half"

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        return [{ANY: 0.9 if "bad" in t else 0.1} for t in texts]


def _rows() -> list[LabelledText]:
    return [
        LabelledText(text="bad thing", unsafe=True),
        LabelledText(text="nice thing", unsafe=False),
        LabelledText(text="bad nice", unsafe=False),
    ]


def test_dump_is_the_overall_metrics_beside_guard_sets_and_overall() -> None:
    guard = Guard([Half()])
    sets = {"mini": _rows()}
    raw = asyncio.run(evaluate_guard(guard, sets))
    typed = asyncio.run(guard_evaluation(guard, sets))
    assert isinstance(typed, GuardEvaluation)
    dumped = typed.model_dump(mode="json")
    flat = {**raw["overall"], **raw}
    assert list(dumped) == list(flat)
    assert list(dumped["sets"]["mini"]) == list(raw["sets"]["mini"])
    assert dumped["tp"] == 1 and dumped["fp"] == 1 and dumped["sets"]["mini"]["fpr"] == 0.5
    assert typed.nested()["sets"] == dumped["sets"]


def test_without_texts_there_is_no_overall() -> None:
    typed = asyncio.run(guard_evaluation(Guard([Half()]), {}))
    assert typed.model_dump(mode="json") == {"guard": "harmscope-guard/half", "sets": {}}
