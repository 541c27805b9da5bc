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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from harmscope.errors import HarmscopeError
from harmscope.guard.normalize import DEFAULT_MAX_CHARS
from harmscope.guard.policy import Decision
from harmscope.guard.schemas import error_body

if TYPE_CHECKING:
    import httpx
    from starlette.responses import Response

__all__ = ["REFUSAL", "ProxyError", "ProxyOptions", "proxy_chat"]

REFUSAL = "I can't help with that request."
"""Text of the answer sent in place of a blocked request or answer."""

MAX_STREAM_BYTES = 8_000_000
"""Default largest upstream answer buffered; longer answers are refused with 502."""

Check = Callable[[list[str]], Awaitable[list[Decision]]]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
NON_TEXT_PARTS = frozenset(
    {"image_url", "input_image", "image", "input_audio", "audio", "file", "input_file"}
)
FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
_BLOBS = frozenset({"url", "data", "file_data", "image_url"})
_POSITION = re.compile(r"\[\d+\]")
_LINE = re.compile(r"\r\n|\r|\n")
_OVERLAP = 500
"""Characters shared by consecutive segments of a long text (a sentence is seen whole)."""
_IDENT = re.compile(r"\S{1,64}\Z")
"""Metadata such as ids and model names: not text, and not checked (detectors misread them)."""

Mode = Literal["block", "allow"]


@dataclass(frozen=True)
class ProxyOptions:
    """How the proxy treats what it cannot read (see the module docstring).

    Args:
        unknown_shapes: ``block`` (400 / 502) or ``allow`` (forward after checking every
            string in them).
        non_text_parts: ``block`` (400 / 502) or ``allow`` (pass images, audio and files).
        max_answer_bytes: Largest upstream answer buffered and checked.
        segment_chars: Longer texts are checked in overlapping segments of this many
            characters (at most the guard's ``max_chars``, which it cuts texts to).
    """

    unknown_shapes: Mode = "block"
    non_text_parts: Mode = "block"
    max_answer_bytes: int = MAX_STREAM_BYTES
    segment_chars: int = DEFAULT_MAX_CHARS

    def __post_init__(self) -> None:
        for name in ("unknown_shapes", "non_text_parts"):
            if getattr(self, name) not in ("block", "allow"):
                raise HarmscopeError(f"{name} must be 'block' or 'allow'")
        if self.max_answer_bytes <= 0:
            raise HarmscopeError("max_answer_bytes must be positive")
        if self.segment_chars <= 2 * _OVERLAP:
            raise HarmscopeError(f"segment_chars must be more than {2 * _OVERLAP}")


class ProxyError(Exception):
    """A request the proxy rejects (status code and message for the client)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in ``value`` (dict keys too) with its path, list positions dropped."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            for key, sub in reversed(item.items()):
                yield f"{where}#keys", str(key)
                stack.append((f"{where}.{key}", sub))
        elif isinstance(item, list):
            stack.extend((where, sub) for sub in reversed(item))


class _Texts:
    """The texts of one unit (the request, one choice, the rest of an answer), by field."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}
        self.joined_only: set[str] = set()

    def add(self, key: str, text: Any, *, alone: bool = True) -> None:
        if not isinstance(text, str) or not text.strip() or (not alone and _IDENT.match(text)):
            return
        parts = self.fields.setdefault(key, [])
        if not (key.endswith("#keys") and text in parts):
            parts.append(text)
        if not alone:
            self.joined_only.add(key)

    def add_all(
        self, key: str, value: Any, skip: frozenset[str] = frozenset(), *, alone: bool = True
    ) -> None:
        for where, text in _walk(value):
            if where.rsplit(".", 1)[-1] not in skip:
                name = key + _POSITION.sub("", where)
                self.add(name, text, alone=alone and not name.endswith("#keys"))

    def add_distinct(self, key: str, value: Any) -> None:
        for where, text in _walk(value, key):
            if f"{where}={text}" not in self.fields:
                self.add(f"{where}={text}", text, alone=False)

    def texts(self) -> list[str]:
        sep = {k: " " if k.endswith("#keys") else "" for k in self.fields}
        whole = {k: sep[k].join(parts) for k, parts in self.fields.items()}
        alone = [t for k, t in whole.items() if k not in self.joined_only]
        if len(whole) > 1 or not alone:
            alone.append("\n".join(whole.values()))
        return [t for t in dict.fromkeys(alone) if t]


@dataclass(frozen=True)
class _Reader:
    """Reads one side (request: 400, upstream answer: 502) under the options."""

    options: ProxyOptions
    status: int

    def unknown(self, where: str, what: str) -> None:
        if self.options.unknown_shapes == "block":
            raise ProxyError(self.status, self._say(f"{where}: {what}"))

    def non_text(self, where: str, kind: str) -> None:
        if self.options.non_text_parts == "block":
            raise ProxyError(self.status, self._say(f"{where}: {kind} cannot be checked"))

    def _say(self, message: str) -> str:
        return message if self.status < 500 else f"upstream answer unreadable at {message}"


def _is_str(value: Any, optional: bool = True) -> bool:
    return isinstance(value, str) or (optional and value is None)


def _read_content(content: Any, where: str, reader: _Reader, unit: _Texts) -> None:
    if content is None or isinstance(content, str):
        unit.add("content", content)
        return
    if not isinstance(content, list):
        reader.unknown(where, "content must be a string, a list of parts or null")
        unit.add_all("content", content)
        return
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        at = f"{where}[{i}]"
        if not isinstance(part, dict) or not isinstance(kind, str):
            reader.unknown(at, "a content part must be an object with a 'type'")
            unit.add_all("content", part)
        elif kind in TEXT_PARTS and isinstance(part.get("text"), str):
            unit.add("content", part["text"])
            unit.add_all("content", {k: v for k, v in part.items() if k not in ("type", "text")})
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            unit.add("refusal", part["refusal"])
        elif kind in NON_TEXT_PARTS:
            reader.non_text(at, f"a {kind!r} part")
            unit.add_all("content.parts", {k: v for k, v in part.items() if k != "type"}, _BLOBS)
        else:
            reader.unknown(at, "content part type (or its text) not understood")
            unit.add_all("content", part)


def _read_call(call: Any, key: str, where: str, reader: _Reader, unit: _Texts) -> None:
    """One tool call (``function`` or ``custom``) or a legacy ``function_call``."""
    body: Any = call
    if key.startswith("tool_calls"):
        kind = call.get("type", "function") if isinstance(call, dict) else None
        body = call.get(kind) if isinstance(call, dict) and kind in ("function", "custom") else None
        if isinstance(call, dict):  # id, type, index and any extra key
            unit.add_all(f"{key}#call", {k: v for k, v in call.items() if k != kind}, alone=False)
    fields = ("name", "arguments", "input")
    if not isinstance(body, dict) or not all(_is_str(body.get(f)) for f in fields):
        reader.unknown(where, "a tool or function call needs string name and arguments")
        unit.add_all(key, call)
        return
    for name in fields:
        unit.add(f"{key}.{name}", body.get(name))
    unit.add_all(key, {k: v for k, v in body.items() if k not in fields})


def _read_message(message: Any, where: str, reader: _Reader, unit: _Texts) -> None:
    """Every text field of a request message, an answer's message or a stream delta."""
    if not isinstance(message, dict):
        reader.unknown(where, "a message must be an object")
        unit.add_all("message", message)
        return
    for key, value in message.items():
        at = f"{where}.{key}"
        unit.add("#keys", key, alone=False)  # a key is text the client sees too
        if key == "role":
            if value is not None and not (isinstance(value, str) and value in ROLES):
                reader.unknown(at, "not a chat role")
                unit.add_all("role", value)
        elif key == "content":
            _read_content(value, at, reader, unit)
        elif key in ("name", "refusal", "tool_call_id") and not _is_str(value):
            reader.unknown(at, "must be a string")
            unit.add_all(key, value)
        elif key == "tool_calls" and isinstance(value, list):
            for i, call in enumerate(value):
                index = call.get("index", i) if isinstance(call, dict) else i
                index = index if isinstance(index, int) else i
                _read_call(call, f"tool_calls[{index}].function", f"{at}[{i}]", reader, unit)
        elif key == "function_call" and value is not None:
            _read_call(value, "function_call", at, reader, unit)
        elif key == "audio" and value is not None:
            reader.non_text(at, "audio")
            unit.add_all("audio", value, _BLOBS)
        elif key == "tool_calls" and value is not None:
            reader.unknown(at, "must be a list")
            unit.add_all(key, value)
        else:
            unit.add_all(key, value)


def _read_request(body: dict[str, Any], options: ProxyOptions) -> list[_Texts]:
    """One unit per message, and one for the tool definitions and other extras.

    Raises:
        ProxyError: ``messages`` is missing or malformed (422), or a shape is not understood
            (400).
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ProxyError(422, "'messages' must be a non-empty list")
    if not isinstance(body.get("stream", False), bool | None):
        raise ProxyError(400, "'stream' must be true or false")
    reader = _Reader(options, 400)
    units = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ProxyError(422, f"messages[{i}] must be an object with a 'role'")
        units.append(_Texts())
        _read_message(m, f"messages[{i}]", reader, units[-1])
    extras = _Texts()
    for key, value in body.items():
        extras.add("#keys", key, alone=False)
        if key not in ("messages", "model"):
            extras.add_all(key, value)
    return [*units, extras]


def _read_choice(choice: Any, where: str, reader: _Reader, unit: _Texts, inner: str) -> None:
    """A choice of an answer (``inner="message"``) or of a stream chunk (``"delta"``)."""
    if not isinstance(choice, dict):
        reader.unknown(where, "a choice must be an object")
        unit.add_all("choice", choice)
        return
    for key, value in choice.items():
        unit.add("#keys", key, alone=False)
        if key == inner:
            _read_message(value, f"{where}.{key}", reader, unit)
        elif key == "index" and not (isinstance(value, int) and not isinstance(value, bool)):
            reader.unknown(f"{where}.index", "must be an integer")
            unit.add_all("index", value)
        elif key == "finish_reason" and not (
            value is None or _is_str(value) and value in FINISH_REASONS
        ):
            reader.unknown(f"{where}.finish_reason", "not a finish reason")
            unit.add_all(key, value)
        elif key == "logprobs":
            unit.add_all(key, value)
        elif key not in ("index", "finish_reason"):
            unit.add_distinct(key, value)


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
    return [text[i : i + size] for i in range(0, len(text) - _OVERLAP, size - _OVERLAP)]


async def _decide(
    check: Check, units: list[_Texts], size: int = DEFAULT_MAX_CHARS
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
    _, decisions = await _decide(check, _read_request(body, options), options.segment_chars)
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
    reader = _Reader(options, 502)
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
    unit = _Texts()
    unit.add_all("error", payload)
    [verdict], taken = await _decide(check, [unit])
    decisions += taken
    return _respond(fallback if _flagged(verdict) else payload, status=status)


async def _checked_answer(
    raw: bytes, reader: _Reader, check: Check, model: str, decisions: list[Decision]
) -> Response:
    answer = _parse(raw)
    if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
        raise ProxyError(502, "upstream returned a malformed chat completion")
    choices: list[Any] = answer["choices"]
    units = [_Texts() for _ in choices]
    for i, (choice, unit) in enumerate(zip(choices, units, strict=True)):
        _read_choice(choice, f"choices[{i}]", reader, unit, "message")
    rest = _Texts()
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


def _sse_data(text: str, reader: _Reader) -> list[str]:
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
    raw: bytes, reader: _Reader, check: Check, model: str, decisions: list[Decision]
) -> Response:
    chunks = [_parse(data) for data in _sse_data(raw.decode("utf-8", "replace"), reader)]
    units: dict[int, _Texts] = {}
    rest = _Texts()
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
                    unit = units.setdefault(index if isinstance(index, int) else i, _Texts())
                    _read_choice(choice, f"chunk {n}.choices[{i}]", reader, unit, "delta")
    _, taken = await _decide(check, [*units.values(), rest], reader.options.segment_chars)
    decisions += taken
    if _flagged(taken):
        info = _blocked_info("output", taken)
        return _respond(_refusal_events(await _echo(model, check), info), stream=True)
    return _respond(chunks, stream=True)
