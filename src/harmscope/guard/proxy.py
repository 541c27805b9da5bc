r"""Chat-completions proxy: check the input, ask the upstream, check the output.

**What is checked.** Every string the model reads or the client receives, in every message
and every role (``system``, ``developer``, ``user``, ``assistant``, ``tool``, ``function``):

* ``content`` as a string, or as a list of parts: ``text``/``input_text``/``output_text``
  parts (their ``text``), ``refusal`` parts (their ``refusal``);
* ``refusal``, ``name``, ``tool_call_id``;
* ``tool_calls[].function.name`` and ``.arguments`` (``custom`` calls: ``.name``, ``.input``),
  the legacy ``function_call.name`` and ``.arguments``;
* any other key of a message (``reasoning_content``, ``annotations``, vendor extensions):
  every string in it;
* in the request also every string of every other top-level field: ``tools`` and
  ``functions`` (descriptions and schemas reach the model), ``tool_choice``,
  ``prediction``, ``response_format``, vendor fields such as ``documents``;
* in the answer ``choices[].message`` as above, ``choices[].logprobs`` (the chosen tokens
  joined), and every other string of the answer (``model``, ``id``, vendor fields) as one text.

Each field is checked on its own and, when a message has several, all of them joined too, so
a text split over fields is seen whole. A text longer than ``segment_chars`` (the guard cuts
texts there) is checked in overlapping segments, so nothing hides behind a long preamble.
Metadata (ids, ``model``, ``object``, dict keys) is checked only when it looks like text: a
value of at most 64 characters without whitespace is an identifier, which detectors misread.
Streamed ``delta`` fields are assembled across chunks before the check: ``delta.content``
(string or parts), ``delta.refusal``, ``delta.tool_calls[index].function.arguments`` (by the
call's ``index``) and so on.

**What is rejected.** Shapes the guard does not understand are refused, not passed unchecked
(fail closed): an unknown role or content-part type, ``content`` that is not a string, a list
of parts or null (a bare object), a text field that is not a string, a malformed tool call.
That is a 400 for the request and a 502 for an upstream answer. ``unknown_shapes="allow"``
(``--proxy-unknown-shapes allow``) forwards such shapes instead, after checking every string
in them. Parts with no text the guard can read (``image_url``, ``input_audio``, ``file``, an
answer's ``audio``) are rejected too by default, since their meaning is unchecked;
``non_text_parts="allow"`` (``--proxy-non-text-parts allow``) passes them, still checking
their text fields (``filename``, ``detail``). Text with lone surrogates (``"\ud800"``) or
``NaN``/``Infinity`` numbers is a 400 in the request and a 502 in the answer. The client
receives exactly what was checked: answers and stream chunks are re-serialised from the
parsed JSON, never copied byte for byte.

**Streaming: buffer and check.** The upstream's event stream is read to the end (up to
``max_answer_bytes``) and held; the assembled text of each choice is checked; only then is
the stream released, or replaced by a refusal stream. No part of a flagged answer ever
reaches the client, at the cost of the first byte arriving only when the upstream has
finished. An upstream that answers a streaming request without an event stream (or a plain
request with one), a stream that ends without ``data: [DONE]``, an ``error`` event, or a
``data:`` line that is not JSON is a 502.

A flagged input is never sent upstream; the refusal comes back in the OpenAI response shape
(``finish_reason: "content_filter"``). A flagged choice is replaced by the refusal. Every
blocked response carries ``harmscope_guard: {"blocked": "input"|"output", "categories"}``.
Upstream errors keep their 4xx status (anything else becomes 502) and their body once it has
been checked. The model name echoed in a refusal is checked too.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from harmscope.guard.chat_read import (
    MAX_STREAM_BYTES,
    OVERLAP,
    ProxyError,
    ProxyOptions,
    Reader,
    Texts,
    read_choice,
    read_request,
)
from harmscope.guard.normalize import DEFAULT_MAX_CHARS
from harmscope.guard.policy import Decision
from harmscope.guard.schemas import error_body

if TYPE_CHECKING:
    import httpx
    from starlette.responses import Response

__all__ = ["MAX_STREAM_BYTES", "REFUSAL", "ProxyError", "ProxyOptions", "proxy_chat"]

REFUSAL = "I can't help with that request."
"""Text of the answer sent in place of a blocked request or answer."""


Check = Callable[[list[str]], Awaitable[list[Decision]]]

_LINE = re.compile(r"\r\n|\r|\n")


def _encode(value: Any, status: int, side: str) -> bytes:
    """``value`` as JSON bytes, or a clean error for text JSON cannot carry."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False).encode()
    except UnicodeEncodeError:
        raise ProxyError(status, f"{side} contains invalid Unicode (a lone surrogate)") from None
    except ValueError:
        raise ProxyError(status, f"{side} contains NaN or Infinity") from None
    except RecursionError:
        raise ProxyError(status, f"{side} is nested too deeply") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(data: str | bytes) -> Any:
    """Strict JSON from the upstream (no NaN); 502 when it cannot be read."""
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ProxyError(502, "upstream returned malformed JSON") from None
    _encode(value, 502, "upstream answer")
    return value


def _segments(text: str, size: int) -> list[str]:
    """``text`` in overlapping pieces of at most ``size`` characters (the guard cuts longer)."""
    if len(text) <= size:
        return [text]
    return [text[i : i + size] for i in range(0, len(text) - OVERLAP, size - OVERLAP)]


async def _decide(
    check: Check, units: list[Texts], size: int = DEFAULT_MAX_CHARS
) -> tuple[list[list[Decision]], list[Decision]]:
    """Decisions per unit, and every decision taken (each distinct text checked once)."""
    per_unit = [[s for t in u.texts() for s in _segments(t, size)] for u in units]
    unique = list(dict.fromkeys(t for texts in per_unit for t in texts))
    decisions = await check(unique) if unique else []
    by_text = dict(zip(unique, decisions, strict=True))
    return [[by_text[t] for t in texts] for texts in per_unit], decisions


def _flagged(decisions: list[Decision]) -> bool:
    return any(d.flagged for d in decisions)


def _blocked_info(where: str, decisions: list[Decision]) -> dict[str, Any]:
    cats = sorted({c for d in decisions if d.flagged for c in d.categories})
    return {"blocked": where, "categories": cats}


def _refusal_choice(index: int) -> dict[str, Any]:
    return {
        "index": index,
        "message": {"role": "assistant", "content": REFUSAL},
        "logprobs": None,
        "finish_reason": "content_filter",
    }


def refusal_completion(model: str, info: dict[str, Any]) -> dict[str, Any]:
    """A chat completion whose single choice is the refusal."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [_refusal_choice(0)],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "harmscope_guard": info,
    }


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _refusal_events(model: str, info: dict[str, Any]) -> list[dict[str, Any]]:
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    last = _chunk(cid, model, {}, "content_filter")
    last["harmscope_guard"] = info
    return [
        _chunk(cid, model, {"role": "assistant", "content": ""}, None),
        _chunk(cid, model, {"content": REFUSAL}, None),
        last,
    ]


async def _sse(chunks: list[dict[str, Any]]) -> AsyncIterator[str]:
    for chunk in chunks:
        yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"


def _respond(payload: Any, *, stream: bool = False, status: int = 200) -> Response:
    from starlette.responses import Response, StreamingResponse

    if stream:
        return StreamingResponse(_sse(payload), media_type="text/event-stream")
    return Response(json.dumps(payload), status_code=status, media_type="application/json")


async def proxy_chat(
    body: dict[str, Any],
    *,
    check: Check,
    client: httpx.AsyncClient,
    upstream_url: str,
    api_key: str | None,
    options: ProxyOptions | None = None,
) -> tuple[Response, list[Decision]]:
    """Run one chat request through the guard and the upstream.

    Returns:
        The response for the client and every decision taken (input and output).

    Raises:
        ProxyError: Malformed request, or the upstream failed, could not be reached or sent
            an answer the guard cannot read.
    """
    import httpx

    options = options or ProxyOptions()
    payload = _encode(body, 400, "request")
    stream = bool(body.get("stream", False))
    _, decisions = await _decide(check, read_request(body, options), options.segment_chars)
    model = body.get("model")
    model = model if isinstance(model, str) else ""
    if _flagged(decisions):
        info = _blocked_info("input", decisions)
        model = await _echo(model, check)
        if stream:
            return _respond(_refusal_events(model, info), stream=True), decisions
        return _respond(refusal_completion(model, info)), decisions
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    url = upstream_url.rstrip("/") + "/chat/completions"
    try:
        async with client.stream("POST", url, content=payload, headers=headers) as upstream:
            raw = await _read_bounded(upstream, options.max_answer_bytes)
            status = upstream.status_code
            is_sse = upstream.headers.get("content-type", "").startswith("text/event-stream")
    except httpx.HTTPError as exc:
        raise ProxyError(502, f"upstream unreachable: {type(exc).__name__}") from None
    if status != 200:
        return await _upstream_error(status, raw, check, decisions), decisions
    if is_sse != stream:
        raise ProxyError(
            502,
            "upstream answered a streaming request without an event stream"
            if stream
            else "upstream answered a plain request with an event stream",
        )
    reader = Reader(options, 502)
    if stream:
        return await _checked_stream(raw, reader, check, model, decisions), decisions
    return await _checked_answer(raw, reader, check, model, decisions), decisions


async def _echo(model: str, check: Check) -> str:
    """The requested model name for a refusal, unless the name itself is flagged."""
    if not model.strip():
        return model
    [decision] = await check([model])
    return "" if decision.flagged else model


async def _read_bounded(upstream: httpx.Response, limit: int) -> bytes:
    data = bytearray()
    async for piece in upstream.aiter_bytes():
        data += piece
        if len(data) > limit:
            raise ProxyError(502, "upstream answer too long to check")
    return bytes(data)


async def _upstream_error(
    status: int, raw: bytes, check: Check, decisions: list[Decision]
) -> Response:
    """The upstream's error, its status kept (5xx as 502) and its body checked."""
    status = status if 400 <= status < 500 else 502
    fallback = error_body(f"upstream answered {status}", kind="upstream_error")
    try:
        payload = _parse(raw)
    except ProxyError:
        return _respond(fallback, status=status)
    unit = Texts()
    unit.add_all("error", payload)
    [verdict], taken = await _decide(check, [unit])
    decisions += taken
    return _respond(fallback if _flagged(verdict) else payload, status=status)


async def _checked_answer(
    raw: bytes, reader: Reader, check: Check, model: str, decisions: list[Decision]
) -> Response:
    answer = _parse(raw)
    if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
        raise ProxyError(502, "upstream returned a malformed chat completion")
    choices: list[Any] = answer["choices"]
    units = [Texts() for _ in choices]
    for i, (choice, unit) in enumerate(zip(choices, units, strict=True)):
        read_choice(choice, f"choices[{i}]", reader, unit, "message")
    rest = Texts()
    rest.add_distinct("answer", {k: v for k, v in answer.items() if k != "choices"})
    per_unit, taken = await _decide(check, [*units, rest], reader.options.segment_chars)
    decisions += taken
    if _flagged(per_unit[-1]):
        info = _blocked_info("output", taken)
        return _respond(refusal_completion(await _echo(model, check), info))
    if _flagged(taken):
        for i, verdict in enumerate(per_unit[:-1]):
            if _flagged(verdict):
                choices[i] = _refusal_choice(i)
        answer["harmscope_guard"] = _blocked_info("output", taken)
    return _respond(answer)


def _sse_data(text: str, reader: Reader) -> list[str]:
    """The ``data`` payloads of an event stream up to ``[DONE]``.

    Raises:
        ProxyError: The stream has an ``error`` event, or ends without ``[DONE]`` (502 unless
            unknown shapes are allowed).
    """
    events: list[str] = []
    data: list[str] = []
    kind = ""
    for line in [*_LINE.split(text.removeprefix("\ufeff")), ""]:
        if not line:
            if data:
                payload = "\n".join(data)
                if kind == "error":
                    raise ProxyError(502, "upstream stream reported an error")
                if payload.strip() == "[DONE]":
                    return events
                events.append(payload)
            data, kind = [], ""
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            kind = value
    reader.unknown("stream", "ended without [DONE]")
    return events


async def _checked_stream(
    raw: bytes, reader: Reader, check: Check, model: str, decisions: list[Decision]
) -> Response:
    chunks = [_parse(data) for data in _sse_data(raw.decode("utf-8", "replace"), reader)]
    units: dict[int, Texts] = {}
    rest = Texts()
    for n, chunk in enumerate(chunks):
        if not isinstance(chunk, dict):
            reader.unknown(f"chunk {n}", "a stream chunk must be an object")
            rest.add_all("chunk", chunk)
            continue
        if "error" in chunk:
            raise ProxyError(502, "upstream stream reported an error")
        for key, value in chunk.items():
            rest.add("#keys", key, alone=False)
            if key != "choices":
                rest.add_distinct(key, value)
            elif not isinstance(value, list):
                reader.unknown(f"chunk {n}.choices", "must be a list")
                rest.add_all("choices", value)
            else:
                for i, choice in enumerate(value):
                    index = choice.get("index", i) if isinstance(choice, dict) else i
                    unit = units.setdefault(index if isinstance(index, int) else i, Texts())
                    read_choice(choice, f"chunk {n}.choices[{i}]", reader, unit, "delta")
    _, taken = await _decide(check, [*units.values(), rest], reader.options.segment_chars)
    decisions += taken
    if _flagged(taken):
        info = _blocked_info("output", taken)
        return _respond(_refusal_events(await _echo(model, check), info), stream=True)
    return _respond(chunks, stream=True)
