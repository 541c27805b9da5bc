"""The OpenAI-compatible target against real HTTP servers on 127.0.0.1.

The servers are harmscope's own model server (``create_chat_app``) over the deterministic
``echo`` target, and small purpose-built upstreams that misbehave on request (rate limits,
5xx, garbage bodies): a remote vendor's failure modes cannot be produced otherwise.
"""

from __future__ import annotations

import asyncio
import email.utils
import time

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from tests.servers import free_port, serve

from harmscope.config import RunConfig
from harmscope.errors import TargetError
from harmscope.records import GenerationParams, Message
from harmscope.targets import create_target
from harmscope.targets.echo import EchoTarget
from harmscope.targets.openai import OpenAITarget
from harmscope.targets.server import create_chat_app

USER = (Message(role="user", content="What is the boiling point of water?"),)
PARAMS = GenerationParams(max_new_tokens=16)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _ask(target: OpenAITarget, messages=USER, params=PARAMS):  # type: ignore[no-untyped-def]
    try:
        return await target.generate(messages, params, case_id="c1")
    finally:
        await target.aclose()


def test_round_trip_through_model_server() -> None:
    with serve(create_chat_app(EchoTarget("repeat"))) as url:
        r = run(_ask(OpenAITarget("echo", base_url=f"{url}/v1")))
    assert r.ok and r.text == USER[0].content
    assert r.case_id == "c1" and r.target_id == "openai/echo" and r.finish_reason == "stop"


def test_system_prompt_and_history_are_sent() -> None:
    seen: list[dict] = []  # type: ignore[type-arg]
    app = FastAPI()

    @app.post("/chat/completions")
    async def chat(request: Request) -> dict:  # type: ignore[type-arg]
        seen.append(await request.json())
        return {"choices": [{"message": {"content": "ok"}, "finish_reason": "length"}]}

    history = (
        Message(role="user", content="hi"),
        Message(role="assistant", content="hello"),
        Message(role="user", content="and now?"),
    )
    params = GenerationParams(max_new_tokens=7, system_prompt="Be terse.")
    with serve(app) as url:
        r = run(_ask(OpenAITarget("m", base_url=url, api_key="k"), history, params))
    assert r.text == "ok" and r.finish_reason == "length"
    body = seen[0]
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["messages"][0]["content"] == "Be terse." and body["max_tokens"] == 7


def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    auth: list[str | None] = []
    app = FastAPI()

    @app.post("/chat/completions")
    async def chat(request: Request) -> dict:  # type: ignore[type-arg]
        auth.append(request.headers.get("authorization"))
        return {"choices": [{"message": {"content": "ok"}}]}

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("HARMSCOPE_API_KEY", "sk-test-123")
    with serve(app) as url:
        run(_ask(OpenAITarget("m", base_url=url)))
    assert auth == ["Bearer sk-test-123"]


def test_retries_429_honouring_retry_after_then_succeeds() -> None:
    calls: list[float] = []
    app = FastAPI()

    @app.post("/chat/completions")
    async def chat() -> JSONResponse:
        calls.append(time.monotonic())
        if len(calls) < 3:
            return JSONResponse(
                {"error": {"message": "slow down"}}, status_code=429, headers={"Retry-After": "0.3"}
            )
        return JSONResponse({"choices": [{"message": {"content": "finally"}}]})

    with serve(app) as url:
        r = run(_ask(OpenAITarget("m", base_url=url, retries=3, backoff_s=0.01)))
    assert r.text == "finally" and len(calls) == 3
    # Retry-After (0.3 s) overrides the tiny exponential backoff (≈0.01–0.03 s).
    assert calls[1] - calls[0] >= 0.29 and calls[2] - calls[1] >= 0.29


def test_retry_after_as_an_http_date_is_honoured() -> None:
    calls: list[float] = []
    sent: list[str] = []
    app = FastAPI()

    @app.post("/chat/completions")
    async def chat() -> JSONResponse:
        calls.append(time.time())
        if len(calls) == 1:
            # HTTP dates have whole seconds: "2 s from now" truncated is 1-2 s away.
            sent.append(email.utils.formatdate(time.time() + 2, usegmt=True))
            return JSONResponse(
                {"error": {"message": "busy"}}, status_code=503, headers={"Retry-After": sent[0]}
            )
        return JSONResponse({"choices": [{"message": {"content": "after the date"}}]})

    with serve(app) as url:
        r = run(_ask(OpenAITarget("m", base_url=url, retries=2, backoff_s=0.01)))
    assert r.text == "after the date" and len(calls) == 2
    due = email.utils.parsedate_to_datetime(sent[0]).timestamp()
    assert calls[1] >= due - 0.05, f"retried {due - calls[1]:.2f} s before the Retry-After date"
    assert calls[1] - calls[0] < 3.5, "and not much later"


def test_unreadable_retry_after_falls_back_to_backoff() -> None:
    calls: list[float] = []
    app = FastAPI()

    @app.post("/chat/completions")
    async def chat() -> JSONResponse:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return JSONResponse({}, status_code=429, headers={"Retry-After": "soon-ish"})
        return JSONResponse({"choices": [{"message": {"content": "ok"}}]})

    with serve(app) as url:
        r = run(_ask(OpenAITarget("m", base_url=url, retries=1, backoff_s=0.01)))
    assert r.text == "ok" and len(calls) == 2
    assert calls[1] - calls[0] < 0.5, "the backoff (≈0.005-0.015 s) was used, not a guess"


def test_gives_up_after_retries_on_5xx_with_error_response() -> None:
    calls = 0
    app = FastAPI()

    @app.post("/chat/completions")
    async def chat() -> JSONResponse:
        nonlocal calls
        calls += 1
        return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)

    with serve(app) as url:
        r = run(_ask(OpenAITarget("m", base_url=url, retries=2, backoff_s=0.01)))
    assert calls == 3
    assert not r.ok and r.text is None and r.error == "HTTP 503: overloaded"


def test_client_errors_are_not_retried() -> None:
    calls = 0
    app = FastAPI()

    @app.post("/chat/completions")
    async def chat() -> JSONResponse:
        nonlocal calls
        calls += 1
        return JSONResponse({"error": {"message": "no such model"}}, status_code=404)

    with serve(app) as url:
        r = run(_ask(OpenAITarget("m", base_url=url, retries=3, backoff_s=0.01)))
    assert calls == 1 and r.error == "HTTP 404: no such model"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("<html>oops</html>", "not JSON"),
        ('{"choices": []}', "no choices[0].message.content"),
        ('{"choices": [{"message": {"content": 42}}]}', "content is int"),
    ],
)
def test_garbage_bodies_become_errors(body: str, why: str) -> None:
    app = FastAPI()

    @app.post("/chat/completions")
    async def chat() -> PlainTextResponse:
        return PlainTextResponse(body)

    with serve(app) as url:
        r = run(_ask(OpenAITarget("m", base_url=url, retries=0)))
    assert not r.ok and r.error is not None and why in r.error


def test_dead_endpoint_is_an_error_not_an_exception() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    r = run(_ask(OpenAITarget("m", base_url=url, retries=1, backoff_s=0.01)))
    assert not r.ok and r.error is not None and r.error.startswith("connection error")


def test_timeout_is_an_error() -> None:
    app = FastAPI()

    @app.post("/chat/completions")
    async def chat() -> dict:  # type: ignore[type-arg]
        await asyncio.sleep(2)
        return {"choices": [{"message": {"content": "late"}}]}

    with serve(app) as url:
        r = run(_ask(OpenAITarget("m", base_url=url, retries=0, timeout_s=0.2)))
    assert r.error is not None and r.error.startswith("timeout after 0.2 s")


def _limited(retry_after: str, calls: list[float]) -> FastAPI:
    """429 with ``Retry-After`` on the first call, then an answer."""
    app = FastAPI()

    @app.post("/chat/completions")
    async def chat() -> JSONResponse:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return JSONResponse(
                {"error": {"message": "rate limited"}},
                status_code=429,
                headers={"Retry-After": retry_after},
            )
        return JSONResponse({"choices": [{"message": {"content": "after waiting"}}]})

    return app


def test_retry_after_beyond_30_s_is_honoured_up_to_the_maximum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:  # the wait asked for, without spending it
        waits.append(seconds)

    monkeypatch.setattr("harmscope.targets.openai._sleep", record)
    calls: list[float] = []
    with serve(_limited("45", calls)) as url:
        r = run(_ask(OpenAITarget("m", base_url=url, retries=2, max_retry_wait_s=120)))
    assert r.text == "after waiting" and len(calls) == 2
    assert waits and waits[0] >= 44.9, f"waited {waits}, not the 45 s the server asked for"


def test_retry_after_longer_than_the_maximum_fails_at_once_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[float] = []
    with (
        caplog.at_level("WARNING", logger="harmscope.targets.openai"),
        serve(_limited("300", calls)) as url,
    ):
        t0 = time.monotonic()
        r = run(_ask(OpenAITarget("m", base_url=url, retries=3, max_retry_wait_s=120)))
        took = time.monotonic() - t0
    assert len(calls) == 1, "not retried: the server asked for longer than allowed"
    assert not r.ok and r.error is not None
    assert r.error.startswith("HTTP 429: rate limited")
    assert "300 s" in r.error and "--max-retry-wait" in r.error and "120 s" in r.error
    assert any("300 s" in rec.getMessage() for rec in caplog.records), "a warning says so"
    assert took < 10, "gave up at once instead of waiting"


def test_a_hanging_endpoint_costs_timeout_times_attempts() -> None:
    calls: list[float] = []
    app = FastAPI()

    @app.post("/chat/completions")
    async def chat() -> dict:  # type: ignore[type-arg]
        calls.append(time.monotonic())
        await asyncio.sleep(5)
        return {"choices": [{"message": {"content": "late"}}]}

    with serve(app) as url:
        t0 = time.monotonic()
        r = run(_ask(OpenAITarget("m", base_url=url, retries=1, timeout_s=0.3, backoff_s=0.01)))
        took = time.monotonic() - t0
    assert len(calls) == 2 and r.error is not None and r.error.startswith("timeout after 0.3 s")
    assert took < 4, f"two 0.3 s attempts took {took:.1f} s"


def test_run_config_settings_reach_the_target() -> None:
    config = RunConfig(timeout_s=7.5, retries=1, max_retry_wait_s=9.0)
    target = create_target("openai/m", config.target_options(), base_url="http://127.0.0.1:9/v1")
    try:
        assert isinstance(target, OpenAITarget)
        assert (target.timeout_s, target.retries, target.max_retry_wait_s) == (7.5, 1, 9.0)
    finally:
        run(target.aclose())


def test_cache_tag_names_the_endpoint_not_the_key() -> None:
    a = OpenAITarget("m", base_url="http://127.0.0.1:1/v1/", api_key="sk-secret")
    b = OpenAITarget("m", base_url="http://127.0.0.1:2/v1", api_key="sk-secret")
    try:
        assert a.cache_tag != b.cache_tag and "127.0.0.1:1/v1" in a.cache_tag
        assert "sk-secret" not in a.cache_tag
    finally:
        run(a.aclose())
        run(b.aclose())


def test_bad_base_url_is_a_clear_error() -> None:
    with pytest.raises(TargetError, match="must start with http"):
        create_target("openai/m", base_url="localhost:8000")


def test_model_server_streams_and_validates() -> None:
    with serve(create_chat_app(EchoTarget("comply"))) as url, httpx.Client(base_url=url) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        assert c.get("/v1/models").json()["data"][0]["id"] == "echo/comply"
        bad = c.post("/v1/chat/completions", json={"messages": []})
        assert bad.status_code == 422
        with c.stream(
            "POST",
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}], "stream": True},
        ) as s:
            lines = [ln for ln in s.iter_lines() if ln.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    import json

    text = "".join(
        json.loads(ln[6:])["choices"][0]["delta"].get("content", "") for ln in lines[:-1]
    )
    assert text == "Sure. Here is a short, general answer to your question."


def test_official_openai_client_talks_to_model_server() -> None:
    import openai

    with serve(create_chat_app(EchoTarget("repeat"), model_name="echo")) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused")
        out = client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "ping"}]
        )
        stream = client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "ping pong"}], stream=True
        )
        streamed = "".join(ch.choices[0].delta.content or "" for ch in stream)
        client.close()
    assert out.choices[0].message.content == "ping" and streamed == "ping pong"
