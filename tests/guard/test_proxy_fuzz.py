"""Property tests of the chat proxy with arbitrary bodies and answers against real servers.

Whatever a client sends and whatever the upstream answers, the service answers only
200/400/413/422/502, and no text the marker detector flags reaches the client in any field:
not in the answer's strings, not in a content-part list joined, not in a streamed field
assembled across chunks. The upstream reflects every string of the request back as its
answer, so input text that slipped past the check would come back out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.responses import Response
from tests.guard.proxy_helpers import MARK, flagged, marker_guard, sse_chunks, strings
from tests.servers import serve

from harmscope.guard.proxy import ProxyOptions

ALLOWED = {200, 400, 413, 422, 502}
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CHARS = st.one_of(st.characters(), st.sampled_from(["\ud800", "\udfff", "\ud83d", "\x00"]))
TEXT = st.one_of(
    st.text(CHARS, max_size=12),
    st.sampled_from([MARK, MARK.upper(), "forbidden ", "payload", "forbid", "den pay", "load"]),
    st.builds(lambda a, b: a + MARK + b, st.text(CHARS, max_size=6), st.text(CHARS, max_size=6)),
)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT)
JSON = st.recursive(
    SCALAR,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(TEXT, kids, max_size=3),
    max_leaves=10,
)
PART_TYPES = ["text", "input_text", "output_text", "refusal", "image_url", "file", "other"]
PART = st.fixed_dictionaries(
    {"type": st.sampled_from(PART_TYPES) | TEXT},
    optional={"text": TEXT | JSON, "refusal": TEXT, "image_url": JSON, "extra": TEXT},
)
CONTENT = st.one_of(st.none(), TEXT, st.lists(PART | JSON, max_size=3), JSON)
FUNCTION = st.fixed_dictionaries({}, optional={"name": TEXT, "arguments": TEXT | JSON}) | JSON
CALL = st.fixed_dictionaries(
    {"type": st.sampled_from(["function", "custom"]) | TEXT, "function": FUNCTION},
    optional={"id": TEXT | JSON, "index": st.integers(0, 2) | JSON, "custom": FUNCTION},
)
ROLES = ["system", "developer", "user", "assistant", "tool", "function"]
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(ROLES) | TEXT},
    optional={
        "content": CONTENT,
        "name": TEXT | JSON,
        "refusal": TEXT | JSON,
        "tool_calls": st.lists(CALL, max_size=2) | JSON,
        "function_call": FUNCTION,
        "tool_call_id": TEXT,
        "reasoning_content": TEXT,
        "audio": JSON,
    },
)
BODY = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"model": TEXT, "messages": st.lists(MESSAGE, min_size=1, max_size=3) | JSON},
        optional={"stream": st.booleans() | JSON, "tools": JSON, "user": TEXT, "n": JSON},
    ),
)


class Upstream:
    """Answers the scripted answer, or else reflects every string of the request."""

    def __init__(self) -> None:
        self.script: tuple[str, bytes] | None = None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions", response_model=None)
        async def chat(request: Request) -> Response:
            if self.script is not None:
                kind, data = self.script
                return Response(data, media_type=kind)
            body = json.loads(await request.body())
            text = " ".join(strings(body))
            if body.get("stream"):
                events = [
                    {"choices": [{"index": 0, "delta": {"content": text[i : i + 5]}}]}
                    for i in range(0, len(text), 5)
                ]
                sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                return Response(sse, media_type="text/event-stream")
            message = {"role": "assistant", "content": text}
            answer = {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
            return Response(json.dumps(answer), media_type="application/json")

        return app


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Upstream, list[str]]]:
    from harmscope.guard.app import create_app

    up = Upstream()
    open_options = ProxyOptions(unknown_shapes="allow", non_text_parts="allow")
    with (
        serve(up.app()) as upstream,
        serve(create_app(marker_guard(), upstream_url=f"{upstream}/v1")) as strict,
        serve(
            create_app(marker_guard(), upstream_url=f"{upstream}/v1", proxy=open_options)
        ) as lenient,
    ):
        yield up, [strict, lenient]


_POSITION = re.compile(r"\[\d+\]")


def _fields(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, string) for every string under ``value``; tool calls keyed by their index."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield from _fields(sub, f"{path}.{key}")
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            index = sub.get("index", i) if isinstance(sub, dict) else i
            yield from _fields(sub, f"{path}[{index}]" if path.endswith("tool_calls") else path)


def _assert_nothing_flagged(r: httpx.Response) -> None:
    assert r.status_code in ALLOWED, (r.status_code, r.text)
    if r.headers.get("content-type", "").startswith("text/event-stream"):
        chunks = sse_chunks(r.text)
        assembled: dict[str, str] = {}
        for c in chunks:
            choices = c.get("choices") if isinstance(c, dict) else None
            for choice in choices if isinstance(choices, list) else []:
                if not isinstance(choice, dict):
                    continue
                for path, text in _fields(choice.get("delta")):
                    index = choice.get("index")
                    key = f"{index}{_POSITION.sub('', path)}"
                    assembled[key] = assembled.get(key, "") + text
        texts = [*strings(chunks), *assembled.values()]
    else:
        payload = r.json()
        texts = list(strings(payload))
        choices = payload.get("choices") if isinstance(payload, dict) else None
        for choice in choices if isinstance(choices, list) else []:
            message = choice.get("message") if isinstance(choice, dict) else None
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list):
                texts.append("".join(p.get("text") or "" for p in content if isinstance(p, dict)))
    leaked = [t for t in texts if flagged(t)]
    assert not leaked, (leaked, r.text[:500])


@SETTINGS
@given(body=BODY)
def test_arbitrary_requests_never_leak_or_fail(
    servers: tuple[Upstream, list[str]], body: Any
) -> None:
    up, proxies = servers
    up.script = None
    raw = json.dumps(body)  # lone surrogates go out as \ud800 escapes
    for url in proxies:
        r = httpx.post(
            f"{url}/v1/chat/completions",
            content=raw,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        _assert_nothing_flagged(r)


ANSWER_MESSAGE = st.fixed_dictionaries(
    {"role": st.just("assistant") | JSON},
    optional={
        "content": CONTENT,
        "refusal": TEXT | JSON,
        "tool_calls": st.lists(CALL, max_size=2) | JSON,
        "function_call": FUNCTION,
        "reasoning_content": TEXT,
        "audio": JSON,
    },
)
CHOICE = st.fixed_dictionaries(
    {"index": st.integers(0, 2), "message": ANSWER_MESSAGE},
    optional={"finish_reason": st.sampled_from(["stop", "length"]) | JSON, "logprobs": JSON},
)
ANSWER = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"choices": st.lists(CHOICE, max_size=2)},
        optional={"id": TEXT, "model": TEXT, "usage": JSON, "extra": JSON},
    ),
)
STREAM_CHOICE = st.fixed_dictionaries(
    {"index": st.integers(0, 1), "delta": ANSWER_MESSAGE},
    optional={"finish_reason": JSON, "logprobs": JSON, "extra": JSON},
)
CHUNK = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"choices": st.lists(STREAM_CHOICE, max_size=2)}, optional={"id": TEXT, "model": TEXT}
    ),
)
STREAM = st.builds(
    lambda chunks, done, junk: "".join(
        f"data: {c}\n\n" for c in [*map(json.dumps, chunks), *junk, *(["[DONE]"] if done else [])]
    ),
    st.lists(CHUNK, max_size=5),
    st.booleans(),
    st.lists(st.sampled_from(["{not json", "", "[DONE"]), max_size=1),
)


@SETTINGS
@given(answer=ANSWER, stream=STREAM, streaming=st.booleans())
def test_arbitrary_answers_never_leak_or_fail(
    servers: tuple[Upstream, list[str]], answer: Any, stream: str, streaming: bool
) -> None:
    up, proxies = servers
    if streaming:
        up.script = ("text/event-stream", stream.encode("utf-8", "surrogatepass"))
    else:
        up.script = ("application/json", json.dumps(answer).encode())
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": streaming}
    for url in proxies:
        r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)
        _assert_nothing_flagged(r)
