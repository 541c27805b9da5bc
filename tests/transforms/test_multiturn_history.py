"""Scripted multi-turn cases reach the target with their whole history, in order.

Two recording stand-ins for a model, no model runs: an in-process target that keeps every
message tuple it is sent, and an OpenAI-compatible HTTP server on 127.0.0.1 that keeps every
request body (so the wire format is checked too). The cases are the authored multi-turn suite
and transform-built conversations.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.servers import chat_completion, serve

from harmscope.config import RunConfig
from harmscope.records import Case, GenerationParams, Message, Response
from harmscope.runner import run_async, scan_async
from harmscope.store import SQLiteStore
from harmscope.suites.multiturn import load_multiturn
from harmscope.transforms import apply_transforms


class RecordingTarget:
    """Test double of a target: records what it is sent and answers with a fixed text."""

    id = "record/test"

    def __init__(self) -> None:
        self.seen: dict[str, tuple[Message, ...]] = {}

    async def generate(
        self, messages: tuple[Message, ...], params: GenerationParams, *, case_id: str = ""
    ) -> Response:
        await asyncio.sleep(0)  # let concurrent cases interleave
        self.seen[case_id] = tuple(messages)
        return Response(case_id=case_id, target_id=self.id, text="I can't help with that.")

    async def aclose(self) -> None:
        pass


class CountJudge:
    """Test double of a judge: every answer is a full refusal."""

    id = "count@test"

    async def judge(self, case: Case, response: Response) -> Any:
        from harmscope.records import Verdict

        return Verdict(case_id=case.id, judge_id=self.id, refusal="full_refusal")


def test_runner_sends_each_scripted_history_intact(tmp_path: Path) -> None:
    suite = load_multiturn()
    base = list(suite.cases[:12])
    cases = apply_transforms(base[:4], ["multiturn.escalate", "persona.historical"]) + base[4:]
    assert any(len(c.messages) >= 9 for c in cases), "some long conversations are included"
    target = RecordingTarget()
    with SQLiteStore(tmp_path / "m.db") as store:
        summary = asyncio.run(
            run_async(
                RunConfig(target=target.id, concurrency=4, judge_check=None),
                store=store,
                target=target,
                judges=[CountJudge()],
                cases=cases,
                suite_ref=suite.ref,
            )
        )
    assert summary.completed == len(cases)
    assert set(target.seen) == {c.id for c in cases}, "one request per case, by its id"
    for case in cases:
        assert target.seen[case.id] == case.messages, f"{case.id}: history changed on the way"
        users = [m for m in target.seen[case.id] if m.role == "user"]
        assert str(len(users)) == case.tags["turns"], case.id
        assert target.seen[case.id][-1].role == "user"


def test_history_reaches_an_http_target_in_order(tmp_path: Path, monkeypatch: Any) -> None:
    from fastapi import FastAPI

    monkeypatch.setenv("OPENAI_API_KEY", "unused")

    bodies: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(body: dict[str, Any]) -> dict[str, Any]:
        bodies.append(body)
        return chat_completion("I can't help with that.", body["model"])

    config = RunConfig(
        target="openai/recorder",
        suite="multiturn",
        limit=6,
        judges=("keyword",),
        judge_check=None,
        concurrency=3,
        transforms=("multiturn.context",),
        params=GenerationParams(max_new_tokens=8, system_prompt="Be careful."),
    )
    with serve(app) as url:
        summary = asyncio.run(
            scan_async(config.model_copy(update={"base_url": f"{url}/v1"}), db=tmp_path / "h.db")
        )
    with SQLiteStore(tmp_path / "h.db") as store:
        cases = [r.case for r in store.results(summary.run_id)]
    assert len(cases) == 12 and len(bodies) == 12
    sent = {tuple((m["role"], m["content"]) for m in b["messages"]) for b in bodies}
    for case in cases:
        expected = (("system", "Be careful."),) + tuple((m.role, m.content) for m in case.messages)
        assert expected in sent, f"{case.id}: the target did not get its full history"
