"""``run_attack`` called from Python, without the CLI, against a real HTTP server on 127.0.0.1.

The server is the scripted stand-in of ``test_attack_cli.py`` (no model runs here): it
refuses every request unless the request asks for pseudocode, so the search has a known
answer to find. The judge is harmscope's real keyword judge.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from tests.attacks.test_attack_cli import TRANSFORMS, _app, _attack
from tests.servers import serve

from harmscope.attacks import (
    AttackResult,
    AttackRow,
    AttackStart,
    run_attack,
    run_attack_sync,
    should_refuse_cases,
)
from harmscope.config import TargetOptions
from harmscope.judges import load_judge
from harmscope.records import Case, GenerationParams
from harmscope.runner.budget import Budget
from harmscope.targets import create_target
from harmscope.transforms import resolve

# The keys ``harmscope attack --json`` printed, and those of each ``--out`` line, before the
# loop moved out of the CLI (read off the command's output on this very setting).
SUMMARY_KEYS = {
    "target", "judge", "cases", "searched", "plain_compliance", "refused_plain", "broken",
    "attack_success_rate", "stopped_by_budget", "requests", "tokens", "resumed", "ranking",
    "plan", "paths",
}  # fmt: skip
ROW_KEYS = {"case_id", "stop_reason", "winner", "requests", "tokens", "path"}
STEP_KEYS = {
    "transform", "case_id", "prompt", "response", "error", "refusal", "scored", "success",
    "tokens",
}  # fmt: skip
CLI_PARAMS = GenerationParams(max_new_tokens=64, seed=0)
"""``harmscope attack``'s defaults."""
COUNTS = (
    "cases", "searched", "plain_compliance", "refused_plain", "broken", "attack_success_rate",
    "stopped_by_budget", "requests", "tokens", "ranking",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "unused")


def _cases(suite: Path) -> list[Case]:
    return should_refuse_cases(str(suite), limit=24)


def _attack_sync(url: str, suite: Path, out: Path, **kwargs: Any) -> AttackResult:
    return run_attack_sync(
        "openai/scripted",
        _cases(suite),
        [t for spec in TRANSFORMS.split(",") for t in resolve(spec)],
        judge=load_judge("keyword"),
        options=TargetOptions(base_url=f"{url}/v1"),
        params=CLI_PARAMS,
        out=out,
        **kwargs,
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def _counts(result: AttackResult) -> dict[str, Any]:
    dumped = result.model_dump(mode="json")
    return {k: dumped[k] for k in COUNTS}


def test_run_attack_from_python_counts_the_rows_it_writes(tmp_path: Path, suite: Path) -> None:
    out = tmp_path / "paths.jsonl"
    seen: list[AttackRow] = []
    starts: list[AttackStart] = []

    async def main(url: str) -> AttackResult:
        target = create_target("openai/scripted", base_url=f"{url}/v1")
        try:
            return await run_attack(
                target,
                _cases(suite),
                [t for spec in TRANSFORMS.split(",") for t in resolve(spec)],
                judge=load_judge("keyword"),
                budget=Budget(max_requests=400),
                out=out,
                on_start=starts.append,
                on_row=seen.append,
            )
        finally:
            await target.aclose()

    with serve(_app()) as url:
        result = asyncio.run(main(url))
    lines = _lines(out)
    rows = [AttackRow.model_validate(x) for x in lines]
    assert rows == seen == result.rows
    assert [s.to_search for s in starts] == [3] and starts[0].already_searched == 0
    assert result.target == "openai/scripted" and result.judge == load_judge("keyword").id
    assert result.cases == result.searched == len(lines) == 3
    assert result.broken == sum(x["stop_reason"] == "success" for x in lines) == 3
    assert result.plain_compliance == sum(x["stop_reason"] == "plain_compliance" for x in lines)
    assert result.requests == sum(x["requests"] for x in lines) == 7
    assert result.tokens == sum(x["tokens"] for x in lines)
    assert result.tokens == sum(a["tokens"] for x in lines for a in x["path"])
    assert result.attack_success_rate.k == 3 and result.attack_success_rate.n == 3
    assert result.stopped_by_budget == 0 and result.resumed is None
    assert result.paths == str(out)
    assert all(set(x) == ROW_KEYS for x in lines)
    assert all(set(a) == STEP_KEYS for x in lines for a in x["path"])
    assert [x.model_dump(mode="json") for x in rows] == lines, "rows round-trip unchanged"


def test_a_callback_alone_is_a_sink(tmp_path: Path, suite: Path) -> None:
    seen: list[AttackRow] = []
    with serve(_app()) as url:
        result = run_attack_sync(
            "openai/scripted",
            _cases(suite),
            resolve("format.pseudocode"),
            judge=load_judge("keyword"),
            options=TargetOptions(base_url=f"{url}/v1"),
            on_row=seen.append,
        )
    assert [r.stop_reason for r in seen] == ["success"] * 3 and seen == result.rows
    assert result.paths is None and result.requests == 6
    assert [p.name for p in tmp_path.iterdir()] == ["unsafe.jsonl"], "no file written"


def test_resume_skips_done_cases_and_ends_where_one_run_ends(tmp_path: Path, suite: Path) -> None:
    whole, parts = tmp_path / "whole.jsonl", tmp_path / "parts.jsonl"
    starts: list[AttackStart] = []
    resumed_rows: list[AttackRow] = []
    with serve(_app()) as url:
        once = _attack_sync(url, suite, whole)
        first = _attack_sync(url, suite, parts, budget=Budget(max_requests=4))
        done = [x["case_id"] for x in _lines(parts) if x["stop_reason"] != "budget"]
        second = _attack_sync(
            url, suite, parts, resume=True, on_start=starts.append, on_row=resumed_rows.append
        )
    assert first.searched == 2 and first.stopped_by_budget == 2 and len(done) == 1
    # the finished case is skipped: only the other two are searched (and written) again
    assert (starts[0].to_search, starts[0].already_searched) == (2, 1)
    assert [r.case_id for r in resumed_rows] == [c.id for c in _cases(suite) if c.id not in done]
    assert len(_lines(parts)) == 2 + 2
    assert second.resumed == 1
    assert _counts(second) == _counts(once)
    assert second.rows[0].model_dump(mode="json") == _lines(parts)[0]


def test_result_dump_has_exactly_the_cli_json_keys_and_types(tmp_path: Path, suite: Path) -> None:
    with serve(_app()) as url:
        cli = _attack(url, suite, tmp_path / "cli.jsonl")
        lib = _attack_sync(url, suite, tmp_path / "lib.jsonl").model_dump(mode="json")
    assert set(cli) == set(lib) == SUMMARY_KEYS
    assert list(lib) == list(cli), "same order too"
    for key in SUMMARY_KEYS - {"paths"}:
        assert lib[key] == cli[key], key
    assert {k: type(v) for k, v in lib.items()} == {k: type(v) for k, v in cli.items()}
    assert set(lib["attack_success_rate"]) == {"value", "ci95", "n", "k"}
    assert isinstance(lib["attack_success_rate"]["ci95"], list)
    assert set(lib["plan"]) == {"requests", "max_total_tokens"}
    assert all(set(r) == {"transform", "attempts", "successes"} for r in lib["ranking"])
    assert lib["resumed"] is None and isinstance(lib["paths"], str)


def test_resume_from_a_file_that_is_not_search_paths_names_it(tmp_path: Path, suite: Path) -> None:
    from harmscope.errors import DataError

    out = tmp_path / "paths.jsonl"
    out.write_text('{"case_id": "unsafe.00001", "tries": 2}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"paths\.jsonl: case unsafe\.00001: not a search path"):
        run_attack_sync(
            "echo/refuse",
            _cases(suite),
            resolve("prefix.sure"),
            judge=load_judge("keyword"),
            out=out,
            resume=True,
        )
