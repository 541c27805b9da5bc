"""A marker guard and a scripted upstream for the chat-proxy bypass and fuzz tests.

The marker detector flags exactly the texts that contain :data:`MARK` (case-insensitive), so a
test knows which text must never reach the other side. Like a real tokenizer it cannot take
text that is not valid Unicode (a lone surrogate fails the whole batch).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from harmscope.guard import ANY, Guard

MARK = "forbidden payload"
"""The text the marker detector flags."""


class MarkerDetector:
    """Score 1 for texts containing :data:`MARK`, 0 otherwise."""

    name = "marker"

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        for text in texts:
            text.encode("utf-8")  # strict, as a tokenizer is: a lone surrogate raises
        return [{ANY: 1.0 if MARK in t.casefold() else 0.0} for t in texts]


def marker_guard() -> Guard:
    """A guard that flags :data:`MARK` and nothing else."""
    return Guard([MarkerDetector()])


def flagged(text: str) -> bool:
    """Whether the marker detector flags ``text``."""
    return MARK in text.casefold()


class ScriptedUpstream:
    """An upstream that answers the next request with the scripted status, type and bytes."""

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.status = 200
        self.content_type = "application/json"
        self.body = b"{}"

    def answer(self, payload: Any, status: int = 200) -> None:
        """Answer with ``payload`` as JSON (a ``str`` or ``bytes`` payload is sent as is)."""
        self.status, self.content_type = status, "application/json"
        self.body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()

    def stream(self, chunks: list[Any], *, done: bool = True) -> None:
        """Answer with an event stream of ``chunks`` (strings are sent as raw ``data:``)."""
        lines = [f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks]
        if done:
            lines.append("data: [DONE]\n\n")
        self.raw_stream("".join(lines))

    def raw_stream(self, text: str) -> None:
        """Answer with ``text`` as an event stream, byte for byte."""
        self.status, self.content_type, self.body = 200, "text/event-stream", text.encode()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions", response_model=None)
        async def chat(request: Request) -> Response:
            self.calls.append(json.loads(await request.body()))
            return Response(self.body, status_code=self.status, media_type=self.content_type)

        return app


def completion(message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A chat completion with one choice holding ``message``."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", **extra}],
    }


def chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    """One chat-completion chunk."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value (dict keys too)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from (str(k) for k in item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def sse_chunks(text: str) -> list[Any]:
    """The JSON payloads of an event stream the proxy sent (``[DONE]`` excluded)."""
    return [
        json.loads(line[6:])
        for line in text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
