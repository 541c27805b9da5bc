"""Guard detectors are chosen by name from the registry, plugins included, on the CLI too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harmscope.cli import app
from harmscope.errors import NotFoundError
from harmscope.guard import ANY, load_guard
from harmscope.guard.registry import DetectorOptions, build_detector, registry


class Everything:
    """Flags every text (a plugin stand-in)."""

    name = "everything"

    def __init__(self, arg: str) -> None:
        self.arg = arg
        self.seen: list[str] = []

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        self.seen += texts
        return [{ANY: 1.0} for _ in texts]


@pytest.fixture
def plugin() -> list[Everything]:
    made: list[Everything] = []

    def factory(arg: str, options: DetectorOptions) -> Everything:
        made.append(Everything(arg))
        return made[-1]

    registry.add("everything", factory)
    yield made
    registry._items.pop("everything", None)


def test_a_registered_detector_is_built_by_name(plugin: list[Everything]) -> None:
    guard = load_guard("everything:x")
    assert guard.detectors == plugin and plugin[0].arg == "x"
    assert guard.check_sync(["hello"])[0].flagged


def test_unknown_detector_names_suggest_close_ones() -> None:
    with pytest.raises(NotFoundError, match="did you mean embedding"):
        build_detector("embeding", DetectorOptions())


def test_guard_eval_uses_the_detector_chosen_on_the_command_line(
    plugin: list[Everything], tmp_path: Path
) -> None:
    data = tmp_path / "two.jsonl"
    rows = [{"text": "a kind word", "label": "safe"}, {"text": "a cruel word", "label": "unsafe"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    result = CliRunner().invoke(
        app, ["guard", "eval", "--detector", "everything", "--data", str(data), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert plugin and set(plugin[0].seen) >= {"a kind word", "a cruel word"}
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["guard"] == "harmscope-guard/everything" and out["recall"] == 1.0
    assert out["fpr"] == 1.0, "the plugin flags the safe text too"
