"""Chat-completions proxy: check the input, ask the upstream, check the output.

* Input: every user message (string or text parts) is checked; if one is flagged the upstream
  is never called and a refusal comes back in the OpenAI response shape
  (``finish_reason: "content_filter"``).
* Output, non-streaming: each choice's message is checked; a flagged choice is replaced by the
  refusal.
* Output, streaming: **buffer and check**. The upstream's SSE stream is read to the end and
  held; the complete text of each choice is checked; only then is the stream released to the
  client unchanged, or replaced by a refusal stream. No part of a flagged answer ever reaches
  the client, at the cost of the first byte arriving only when the upstream has finished.

Every blocked response carries ``harmscope_guard: {"blocked": "input"|"output", "categories"}``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from harmscope.guard.policy import Decision
from harmscope.guard.schemas import error_body

if TYPE_CHECKING:
    import httpx
    from starlette.responses import Response

__all__ = ["REFUSAL", "ProxyError", "proxy_chat"]

REFUSAL = "I can't help with that request."
"""Text of the answer sent in place of a blocked request or answer."""

MAX_STREAM_BYTES = 8_000_000
"""Largest upstream stream buffered; longer answers are refused with 502."""

Check = Callable[[list[str]], Awaitable[list[Decision]]]


class ProxyError(Exception):
    """A request the proxy rejects (status code and message for the client)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def user_texts(body: dict[str, Any]) -> list[str]:
    """User message texts of a chat request.

    Raises:
        ProxyError: ``messages`` is missing or malformed.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ProxyError(422, "'messages' must be a non-empty list")
    texts = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ProxyError(422, f"messages[{i}] must be an object with a 'role'")
        if m["role"] == "user":
            texts.append(_content_text(m.get("content")))
    return texts


def _blocked_info(where: str, decisions: list[Decision]) -> dict[str, Any]:
    cats = sorted({c for d in decisions if d.flagged for c in d.categories})
    return {"blocked": where, "categories": cats}


def refusal_completion(model: str, info: dict[str, Any]) -> dict[str, Any]:
    """A chat completion whose single choice is the refusal."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": REFUSAL},
                "finish_reason": "content_filter",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "harmscope_guard": info,
    }


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


async def refusal_stream(model: str, info: dict[str, Any]) -> AsyncIterator[str]:
    """The refusal as an SSE stream of chat-completion chunks."""
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    yield _chunk(cid, model, {"role": "assistant", "content": ""}, None)
    yield _chunk(cid, model, {"content": REFUSAL}, None)
    last = json.loads(_chunk(cid, model, {}, "content_filter")[6:])
    last["harmscope_guard"] = info
    yield f"data: {json.dumps(last)}\n\n"
    yield "data: [DONE]\n\n"


async def _replay(events: list[str]) -> AsyncIterator[str]:
    for event in events:
        yield event


async def proxy_chat(
    body: dict[str, Any],
    *,
    check: Check,
    client: httpx.AsyncClient,
    upstream_url: str,
    api_key: str | None,
) -> tuple[Response, list[Decision]]:
    """Run one chat request through the guard and the upstream.

    Returns:
        The response for the client and every decision taken (input and output).

    Raises:
        ProxyError: Malformed request, or the upstream failed or could not be reached.
    """
    from starlette.responses import JSONResponse, StreamingResponse

    model = str(body.get("model") or "")
    stream = bool(body.get("stream", False))
    decisions = await check(user_texts(body))
    if any(d.flagged for d in decisions):
        info = _blocked_info("input", decisions)
        if stream:
            return StreamingResponse(
                refusal_stream(model, info), media_type="text/event-stream"
            ), decisions
        return JSONResponse(refusal_completion(model, info)), decisions
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = upstream_url.rstrip("/") + "/chat/completions"
    import httpx

    try:
        if stream:
            return await _stream(client, url, body, headers, model, check, decisions)
        upstream = await client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise ProxyError(502, f"upstream unreachable: {type(exc).__name__}") from None
    if upstream.status_code != 200:
        return _passthrough(upstream.status_code, upstream.content), decisions
    try:
        answer = upstream.json()
        choices = answer["choices"]
        texts = [_content_text((c.get("message") or {}).get("content")) for c in choices]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ProxyError(502, "upstream returned a malformed chat completion") from None
    out_decisions = await check(texts)
    decisions += out_decisions
    if any(d.flagged for d in out_decisions):
        for choice, d in zip(choices, out_decisions, strict=True):
            if d.flagged:
                choice["message"] = {"role": "assistant", "content": REFUSAL}
                choice["finish_reason"] = "content_filter"
        answer["harmscope_guard"] = _blocked_info("output", out_decisions)
    return JSONResponse(answer), decisions


def _passthrough(status: int, content: bytes) -> Response:
    from starlette.responses import JSONResponse

    try:
        payload = json.loads(content)
    except ValueError:
        payload = error_body(f"upstream answered {status}", kind="upstream_error")
    return JSONResponse(payload, status_code=status)


async def _stream(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    model: str,
    check: Check,
    decisions: list[Decision],
) -> tuple[Response, list[Decision]]:
    from starlette.responses import StreamingResponse

    events: list[str] = []
    texts: dict[int, list[str]] = {}
    size = 0
    async with client.stream("POST", url, json=body, headers=headers) as upstream:
        if upstream.status_code != 200:
            return _passthrough(upstream.status_code, await upstream.aread()), decisions
        async for line in upstream.aiter_lines():
            size += len(line)
            if size > MAX_STREAM_BYTES:
                raise ProxyError(502, "upstream answer too long to check")
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            events.append(f"data: {data}\n\n")
            if data == "[DONE]":
                break
            try:
                chunk = json.loads(data)
                for choice in chunk.get("choices", []):
                    piece = (choice.get("delta") or {}).get("content")
                    if isinstance(piece, str):
                        texts.setdefault(int(choice.get("index", 0)), []).append(piece)
            except (ValueError, TypeError, AttributeError):
                raise ProxyError(502, "upstream sent a malformed stream chunk") from None
    out = await check(["".join(parts) for _, parts in sorted(texts.items())])
    decisions += out
    if any(d.flagged for d in out):
        info = _blocked_info("output", out)
        return StreamingResponse(
            refusal_stream(model, info), media_type="text/event-stream"
        ), decisions
    return StreamingResponse(_replay(events), media_type="text/event-stream"), decisions
