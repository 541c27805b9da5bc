"""The chat proxy checks every text field, in both directions, and refuses what it cannot read.

A marker guard flags exactly the texts holding ``MARK``; a scripted upstream on 127.0.0.1
answers with whatever shape a test sets. Each case here was a way around the guard.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.guard.proxy_helpers import (
    MARK,
    ScriptedUpstream,
    chunk,
    completion,
    marker_guard,
    sse_chunks,
)
from tests.servers import serve

from harmscope.guard.proxy import REFUSAL, ProxyOptions

OK = {"role": "user", "content": "What is a good name for a goldfish?"}
SAFE_ANSWER = completion({"role": "assistant", "content": "Call it Bubbles."})


def _call(name: str, arguments: str) -> dict[str, Any]:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ScriptedUpstream, str]]:
    up = ScriptedUpstream()
    with serve(up.app()) as url:
        yield up, f"{url}/v1"


@pytest.fixture(scope="module")
def proxy(upstream: tuple[ScriptedUpstream, str]) -> Iterator[str]:
    from harmscope.guard.app import create_app

    with serve(create_app(marker_guard(), upstream_url=upstream[1])) as url:
        yield url


@pytest.fixture(scope="module")
def open_proxy(upstream: tuple[ScriptedUpstream, str]) -> Iterator[str]:
    from harmscope.guard.app import create_app

    options = ProxyOptions(unknown_shapes="allow", non_text_parts="allow")
    with serve(create_app(marker_guard(), upstream_url=upstream[1], proxy=options)) as url:
        yield url


def _post(url: str, messages: list[Any], **extra: Any) -> httpx.Response:
    body = {"model": "m", "messages": messages, **extra}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)


def _post_raw(url: str, raw: str) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    return httpx.post(f"{url}/v1/chat/completions", content=raw, headers=headers, timeout=30)


INPUT_BYPASSES: dict[str, tuple[list[Any], dict[str, Any]]] = {
    "input_text part": ([{"role": "user", "content": [{"type": "input_text", "text": MARK}]}], {}),
    "split over text parts": (
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "forbidden "},
                    {"type": "text", "text": "payload"},
                ],
            }
        ],
        {},
    ),
    "system message": ([{"role": "system", "content": MARK}, OK], {}),
    "developer parts": (
        [{"role": "developer", "content": [{"type": "text", "text": MARK}]}, OK],
        {},
    ),
    "assistant prefill": ([OK, {"role": "assistant", "content": MARK}], {}),
    "tool call arguments": (
        [OK, {"role": "assistant", "tool_calls": [_call("search", json.dumps({"q": MARK}))]}],
        {},
    ),
    "tool call name": ([OK, {"role": "assistant", "tool_calls": [_call(MARK, "{}")]}], {}),
    "legacy function_call": (
        [OK, {"role": "assistant", "function_call": {"name": "f", "arguments": MARK}}],
        {},
    ),
    "tool result": (
        [
            OK,
            {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": MARK}]},
        ],
        {},
    ),
    "function result": ([OK, {"role": "function", "name": "f", "content": MARK}], {}),
    "refusal field": ([OK, {"role": "assistant", "content": None, "refusal": MARK}], {}),
    "refusal part": (
        [OK, {"role": "assistant", "content": [{"type": "refusal", "refusal": MARK}]}],
        {},
    ),
    "name": ([{"role": "user", "name": MARK, "content": "hi"}], {}),
    "vendor field": ([{"role": "user", "content": "hi", "reasoning_content": MARK}], {}),
    "tool description": (
        [OK],
        {"tools": [{"type": "function", "function": {"name": "f", "description": MARK}}]},
    ),
    "after 25k characters": ([{"role": "user", "content": "Fine. " * 4200 + MARK}], {}),
}


@pytest.mark.parametrize("case", list(INPUT_BYPASSES))
def test_flagged_input_in_any_field_is_refused(
    case: str, proxy: str, upstream: tuple[ScriptedUpstream, str]
) -> None:
    messages, extra = INPUT_BYPASSES[case]
    up, _ = upstream
    up.answer(SAFE_ANSWER)
    before = len(up.calls)
    r = _post(proxy, messages, **extra)
    assert r.status_code == 200, r.text
    assert r.json()["harmscope_guard"]["blocked"] == "input"
    assert r.json()["choices"][0]["message"]["content"] == REFUSAL
    streamed = _post(proxy, messages, stream=True, **extra)
    assert sse_chunks(streamed.text)[-1]["harmscope_guard"]["blocked"] == "input"
    assert len(up.calls) == before, "a flagged request never reaches the upstream"


UNREADABLE_REQUESTS: dict[str, Any] = {
    "bare object content": {"text": MARK},
    "unknown part type": [{"type": "custom_text", "text": MARK}],
    "text part without string text": [{"type": "text", "text": {"value": MARK}}],
    "part without type": [{"text": MARK}],
    "number content": 7,
    "image part": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}],
    "audio part": [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}],
    "file part": [{"type": "file", "file": {"file_data": "AAAA", "filename": "a.pdf"}}],
}


@pytest.mark.parametrize("case", list(UNREADABLE_REQUESTS))
def test_unreadable_request_content_is_400(
    case: str, proxy: str, upstream: tuple[ScriptedUpstream, str]
) -> None:
    up, _ = upstream
    before = len(up.calls)
    r = _post(proxy, [{"role": "user", "content": UNREADABLE_REQUESTS[case]}])
    assert r.status_code == 400, r.text
    assert "messages[0].content" in r.json()["error"]["message"]
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert len(up.calls) == before


@pytest.mark.parametrize(
    "message",
    [
        {"role": "narrator", "content": "hi"},
        {"role": "user", "content": "hi", "name": {"first": MARK}},
        {"role": "assistant", "tool_calls": {"function": {"name": MARK}}},
        {"role": "assistant", "tool_calls": [{"type": "function", "function": MARK}]},
        {"role": "assistant", "function_call": {"name": "f", "arguments": {"q": MARK}}},
    ],
)
def test_unreadable_message_is_400(message: dict[str, Any], proxy: str) -> None:
    r = _post(proxy, [OK, message])
    assert r.status_code == 400, r.text
    assert "messages[1]" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"model": "m", "messages": [{"role": "user", "content": "a\\ud800b"}]}',
        '{"model": "m", "messages": [{"role": "system", "content": [{"type": "text", '
        '"text": "\\udfff"}]}, {"role": "user", "content": "hi"}]}',
        '{"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", '
        '"type": "function", "function": {"name": "f", "arguments": "\\ud83d"}}]}]}',
        '{"model": "m", "user": "\\ud800", "messages": [{"role": "user", "content": "hi"}]}',
    ],
)
def test_lone_surrogate_in_request_is_400(raw: str, proxy: str) -> None:
    r = _post_raw(proxy, raw)
    assert r.status_code == 400, r.text
    assert "surrogate" in r.json()["error"]["message"]


def test_lone_surrogate_fails_only_its_own_request(
    proxy: str, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].answer(SAFE_ANSWER)
    bad = '{"model": "m", "messages": [{"role": "user", "content": "x\\ud800"}]}'
    good = json.dumps({"model": "m", "messages": [OK]})

    async def go() -> list[httpx.Response]:
        headers = {"Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=proxy, headers=headers, timeout=30) as client:
            bodies = [bad if i % 2 else good for i in range(12)]
            return await asyncio.gather(
                *(client.post("/v1/chat/completions", content=b) for b in bodies)
            )

    statuses = [r.status_code for r in asyncio.run(go())]
    assert statuses == [200, 400] * 6


@pytest.mark.parametrize(
    "raw",
    [
        '{"model": "m", "temperature": NaN, "messages": [{"role": "user", "content": "hi"}]}',
        '{"model": "m", "stream": "yes", "messages": [{"role": "user", "content": "hi"}]}',
    ],
)
def test_request_json_the_upstream_would_read_otherwise_is_400(raw: str, proxy: str) -> None:
    assert _post_raw(proxy, raw).status_code == 400


def test_deeply_nested_request_is_400(proxy: str) -> None:
    deep = "[" * 50_000 + "]" * 50_000
    raw = '{"model": "m", "messages": [{"role": "user", "content": ' + deep + "}]}"
    r = _post_raw(proxy, raw)
    assert r.status_code == 400, r.text


def test_allow_mode_checks_then_forwards_unknown_shapes(
    open_proxy: str, upstream: tuple[ScriptedUpstream, str]
) -> None:
    up, _ = upstream
    up.answer(SAFE_ANSWER)
    r = _post(open_proxy, [{"role": "user", "content": {"text": MARK}}])
    assert r.json()["harmscope_guard"]["blocked"] == "input"
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    content = [{"type": "text", "text": "What is this?"}, image]
    r = _post(open_proxy, [{"role": "user", "content": content}])
    assert (
        r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "Call it Bubbles."
    )
    assert up.calls[-1]["messages"][0]["content"] == content
    r = _post(open_proxy, [{"role": "user", "content": [image, {"type": "text", "text": MARK}]}])
    assert r.json()["harmscope_guard"]["blocked"] == "input"


# --- answers ---------------------------------------------------------------------------------

OUTPUT_BYPASSES: dict[str, dict[str, Any]] = {
    "content parts": completion(
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "forbidden "},
                {"type": "output_text", "text": "payload"},
            ],
        }
    ),
    "tool call arguments": completion(
        {"role": "assistant", "content": None, "tool_calls": [_call("f", json.dumps({"a": MARK}))]}
    ),
    "tool call name": completion(
        {"role": "assistant", "content": None, "tool_calls": [_call(MARK, "{}")]}
    ),
    "legacy function_call": completion(
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": MARK}}
    ),
    "refusal field": completion({"role": "assistant", "content": None, "refusal": MARK}),
    "tool call id": completion(
        {"role": "assistant", "content": None, "tool_calls": [{**_call("f", "{}"), "id": MARK}]}
    ),
    "message key": completion({"role": "assistant", "content": "ok", MARK: True}),
    "vendor reasoning": completion(
        {"role": "assistant", "content": "ok", "reasoning_content": MARK}
    ),
    "logprobs tokens": completion(
        {"role": "assistant", "content": "ok"},
        logprobs={
            "content": [
                {"token": "forbidden", "logprob": -0.1, "bytes": None, "top_logprobs": []},
                {"token": " payload", "logprob": -0.1, "bytes": None, "top_logprobs": []},
            ]
        },
    ),
    "after 25k characters": completion({"role": "assistant", "content": "Fine. " * 4200 + MARK}),
}


@pytest.mark.parametrize("case", list(OUTPUT_BYPASSES))
def test_flagged_answer_in_any_field_is_replaced(
    case: str, proxy: str, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].answer(OUTPUT_BYPASSES[case])
    r = _post(proxy, [OK])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["harmscope_guard"]["blocked"] == "output"
    assert body["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": REFUSAL},
        "logprobs": None,
        "finish_reason": "content_filter",
    }
    assert "forbidden" not in r.text and "payload" not in r.text


def test_only_the_flagged_choice_is_replaced_and_envelope_text_is_checked(
    proxy: str, upstream: tuple[ScriptedUpstream, str]
) -> None:
    answer = completion({"role": "assistant", "content": "Call it Bubbles."})
    answer["choices"].append(
        {"index": 1, "message": {"role": "assistant", "content": MARK}, "finish_reason": "stop"}
    )
    upstream[0].answer(answer)
    body = _post(proxy, [OK], n=2).json()
    assert body["choices"][0]["message"]["content"] == "Call it Bubbles."
    assert body["choices"][1]["message"]["content"] == REFUSAL
    upstream[0].answer({**SAFE_ANSWER, "system_fingerprint": MARK})
    r = _post(proxy, [OK])
    assert r.json()["harmscope_guard"]["blocked"] == "output" and MARK not in r.text


UNREADABLE_ANSWERS: dict[str, Any] = {
    "bare object content": completion({"role": "assistant", "content": {"text": MARK}}),
    "image part": completion(
        {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
    ),
    "audio": completion(
        {"role": "assistant", "content": None, "audio": {"id": "a", "data": "AAAA"}}
    ),
    "tool call function not an object": completion(
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": MARK}]}
    ),
    "unknown finish reason": {
        **SAFE_ANSWER,
        "choices": [{**SAFE_ANSWER["choices"][0], "finish_reason": MARK}],
    },
    "no choices": {"id": "x", "text": MARK},
    "role not a string": completion({"role": {"name": MARK}, "content": "ok"}),
    "finish reason not a string": {
        **SAFE_ANSWER,
        "choices": [{**SAFE_ANSWER["choices"][0], "finish_reason": [MARK]}],
    },
    "lone surrogate": b'{"choices": [{"index": 0, "message": {"role": "assistant", '
    b'"content": "a\\ud800b"}, "finish_reason": "stop"}]}',
    "NaN": b'{"choices": [], "usage": {"prompt_tokens": NaN}}',
    "deep nesting": b'{"choices": [], "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "not JSON": b"<html>oops</html>",
}


@pytest.mark.parametrize("case", list(UNREADABLE_ANSWERS))
def test_unreadable_answer_is_502(
    case: str, proxy: str, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].answer(UNREADABLE_ANSWERS[case])
    r = _post(proxy, [OK])
    assert r.status_code == 502, r.text
    assert r.json()["error"]["type"] == "upstream_error"
    assert MARK not in r.text


def test_upstream_errors_are_checked_and_5xx_is_502(
    proxy: str, upstream: tuple[ScriptedUpstream, str]
) -> None:
    up, _ = upstream
    up.answer({"error": {"message": f"you said: {MARK}", "type": "invalid_request_error"}}, 400)
    r = _post(proxy, [OK])
    assert r.status_code == 400 and MARK not in r.text
    up.answer({"error": {"message": "model overloaded", "type": "server_error"}}, 500)
    r = _post(proxy, [OK])
    assert r.status_code == 502 and r.json()["error"]["message"] == "model overloaded"


# --- streams ---------------------------------------------------------------------------------


def test_stream_request_to_a_plain_json_upstream_is_502(
    proxy: str, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].answer(completion({"role": "assistant", "content": MARK}))
    r = _post(proxy, [OK], stream=True)
    assert r.status_code == 502, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "event stream" in r.json()["error"]["message"] and MARK not in r.text
    upstream[0].stream([chunk({"content": "hi"})])
    assert _post(proxy, [OK]).status_code == 502


@pytest.mark.parametrize(
    "raw",
    [
        "data: " + json.dumps(chunk({"content": "Hello"})) + "\n\n",  # no [DONE]
        "data: " + json.dumps(chunk({"content": "Hello"})) + "\n\ndata: {not json\n\n"
        "data: [DONE]\n\n",
        "event: error\ndata: " + json.dumps({"error": {"message": MARK}}) + "\n\ndata: [DONE]\n\n",
        'data: {"choices": [{"index": 0, "delta": {"content": "\\ud800"}}]}\n\ndata: [DONE]\n\n',
        "data: " + json.dumps(chunk({"content": {"text": MARK}})) + "\n\ndata: [DONE]\n\n",
    ],
    ids=["no done", "malformed data", "error event", "lone surrogate", "bare object"],
)
def test_broken_stream_is_502(raw: str, proxy: str, upstream: tuple[ScriptedUpstream, str]) -> None:
    upstream[0].raw_stream(raw)
    r = _post(proxy, [OK], stream=True)
    assert r.status_code == 502, r.text
    assert MARK not in r.text


STREAM_BYPASSES: dict[str, list[Any]] = {
    "content parts": [
        chunk({"role": "assistant", "content": [{"type": "text", "text": "forbid"}]}),
        chunk({"content": [{"type": "text", "text": "den pay"}]}),
        chunk({"content": "load"}, "stop"),
    ],
    "tool call arguments": [
        chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"q": "forbid'},
                    }
                ],
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "den pay"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'load"}'}}]}, "tool_calls"),
    ],
    "refusal": [chunk({"refusal": "forbidden"}), chunk({"refusal": " payload"}, "stop")],
    "second choice": [chunk({"content": "hi"}), chunk({"content": MARK}, index=1)],
    "chunk key": [chunk({"content": "hi"}), {MARK: None}],
    "duplicate key": [
        '{"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "s", '
        '"choices": [{"index": 0, "delta": {"content": "forbidden payload", "content": "ok"}, '
        '"finish_reason": null}]}'
    ],
}


@pytest.mark.parametrize("case", list(STREAM_BYPASSES))
def test_flagged_stream_in_any_field_never_leaks(
    case: str, proxy: str, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].stream(STREAM_BYPASSES[case])
    r = _post(proxy, [OK], stream=True)
    assert r.status_code == 200, r.text
    assert "forbid" not in r.text and "payload" not in r.text
    assert r.text.endswith("data: [DONE]\n\n")


def test_clean_stream_is_released_as_parsed(
    proxy: str, upstream: tuple[ScriptedUpstream, str]
) -> None:
    upstream[0].raw_stream(
        ": keep-alive\r\n\r\n"
        + "data:"
        + json.dumps(chunk({"role": "assistant", "content": "Call it "}))
        + "\r\n\r\ndata: "
        + json.dumps(chunk({"content": "Bubbles."}, "stop"))
        + "\n\ndata: [DONE]\n\nevent: ignored\ndata: junk after done\n\n"
    )
    r = _post(proxy, [OK], stream=True)
    assert r.status_code == 200, r.text
    chunks = sse_chunks(r.text)
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "Call it Bubbles."
    assert "junk" not in r.text and r.text.endswith("data: [DONE]\n\n")
