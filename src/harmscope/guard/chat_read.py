"""Reading chat requests and answers: every text field the model reads or the client receives.

What is read, and which shapes are refused, is described in :mod:`harmscope.guard.proxy`. A
:class:`Texts` collects one unit's texts by field; a :class:`Reader` refuses (or, when the
options allow, passes) shapes it cannot read, as 400 on the request side and 502 on the
upstream side.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from harmscope.errors import HarmscopeError
from harmscope.guard.normalize import DEFAULT_MAX_CHARS

__all__ = [
    "FINISH_REASONS",
    "MAX_STREAM_BYTES",
    "NON_TEXT_PARTS",
    "OVERLAP",
    "ROLES",
    "TEXT_PARTS",
    "Mode",
    "ProxyError",
    "ProxyOptions",
    "Reader",
    "Texts",
    "read_choice",
    "read_message",
    "read_request",
]

MAX_STREAM_BYTES = 8_000_000
"""Default largest upstream answer buffered; longer answers are refused with 502."""

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
NON_TEXT_PARTS = frozenset(
    {"image_url", "input_image", "image", "input_audio", "audio", "file", "input_file"}
)
FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
_BLOBS = frozenset({"url", "data", "file_data", "image_url"})
_POSITION = re.compile(r"\[\d+\]")
OVERLAP = 500
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
        if self.segment_chars <= 2 * OVERLAP:
            raise HarmscopeError(f"segment_chars must be more than {2 * OVERLAP}")


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


class Texts:
    """The texts of one unit (the request, one choice, the rest of an answer), by field."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}
        self.joined_only: set[str] = set()

    def add(self, key: str, text: Any, *, alone: bool = True) -> None:
        """Add ``text`` under ``key`` (``alone=False``: checked only joined with the rest)."""
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
        """Add every string in ``value`` under ``key`` and its path, except ``skip`` keys."""
        for where, text in _walk(value):
            if where.rsplit(".", 1)[-1] not in skip:
                name = key + _POSITION.sub("", where)
                self.add(name, text, alone=alone and not name.endswith("#keys"))

    def add_distinct(self, key: str, value: Any) -> None:
        """Add every distinct string of ``value`` once, checked only joined with the rest."""
        for where, text in _walk(value, key):
            if f"{where}={text}" not in self.fields:
                self.add(f"{where}={text}", text, alone=False)

    def texts(self) -> list[str]:
        """Each field on its own and, with several fields, all of them joined."""
        sep = {k: " " if k.endswith("#keys") else "" for k in self.fields}
        whole = {k: sep[k].join(parts) for k, parts in self.fields.items()}
        alone = [t for k, t in whole.items() if k not in self.joined_only]
        if len(whole) > 1 or not alone:
            alone.append("\n".join(whole.values()))
        return [t for t in dict.fromkeys(alone) if t]


@dataclass(frozen=True)
class Reader:
    """Reads one side (request: 400, upstream answer: 502) under the options."""

    options: ProxyOptions
    status: int

    def unknown(self, where: str, what: str) -> None:
        """Refuse a shape not understood, unless unknown shapes are allowed."""
        if self.options.unknown_shapes == "block":
            raise ProxyError(self.status, self._say(f"{where}: {what}"))

    def non_text(self, where: str, kind: str) -> None:
        """Refuse a part with no readable text, unless non-text parts are allowed."""
        if self.options.non_text_parts == "block":
            raise ProxyError(self.status, self._say(f"{where}: {kind} cannot be checked"))

    def _say(self, message: str) -> str:
        return message if self.status < 500 else f"upstream answer unreadable at {message}"


def _is_str(value: Any, optional: bool = True) -> bool:
    return isinstance(value, str) or (optional and value is None)


def _read_content(content: Any, where: str, reader: Reader, unit: Texts) -> None:
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


def _read_call(call: Any, key: str, where: str, reader: Reader, unit: Texts) -> None:
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


def _read_role(key: str, value: Any, at: str, reader: Reader, unit: Texts) -> None:
    if value is not None and not (isinstance(value, str) and value in ROLES):
        reader.unknown(at, "not a chat role")
        unit.add_all("role", value)


def _read_content_field(key: str, value: Any, at: str, reader: Reader, unit: Texts) -> None:
    _read_content(value, at, reader, unit)


def _read_string(key: str, value: Any, at: str, reader: Reader, unit: Texts) -> None:
    if not _is_str(value):
        reader.unknown(at, "must be a string")
    unit.add_all(key, value)


def _read_calls(key: str, value: Any, at: str, reader: Reader, unit: Texts) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        reader.unknown(at, "must be a list")
        unit.add_all(key, value)
        return
    for i, call in enumerate(value):
        index = call.get("index", i) if isinstance(call, dict) else i
        index = index if isinstance(index, int) else i
        _read_call(call, f"tool_calls[{index}].function", f"{at}[{i}]", reader, unit)


def _read_function_call(key: str, value: Any, at: str, reader: Reader, unit: Texts) -> None:
    if value is not None:
        _read_call(value, "function_call", at, reader, unit)


def _read_audio(key: str, value: Any, at: str, reader: Reader, unit: Texts) -> None:
    if value is not None:
        reader.non_text(at, "audio")
        unit.add_all("audio", value, _BLOBS)


def _read_other(key: str, value: Any, at: str, reader: Reader, unit: Texts) -> None:
    unit.add_all(key, value)


_FIELDS: dict[str, Callable[[str, Any, str, Reader, Texts], None]] = {
    "role": _read_role,
    "content": _read_content_field,
    "name": _read_string,
    "refusal": _read_string,
    "tool_call_id": _read_string,
    "tool_calls": _read_calls,
    "function_call": _read_function_call,
    "audio": _read_audio,
}
"""How each known message field is read; any other key is read as every string in it."""


def read_message(message: Any, where: str, reader: Reader, unit: Texts) -> None:
    """Every text field of a request message, an answer's message or a stream delta."""
    if not isinstance(message, dict):
        reader.unknown(where, "a message must be an object")
        unit.add_all("message", message)
        return
    for key, value in message.items():
        unit.add("#keys", key, alone=False)  # a key is text the client sees too
        _FIELDS.get(key, _read_other)(key, value, f"{where}.{key}", reader, unit)


def read_request(body: dict[str, Any], options: ProxyOptions) -> list[Texts]:
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
    reader = Reader(options, 400)
    units = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ProxyError(422, f"messages[{i}] must be an object with a 'role'")
        units.append(Texts())
        read_message(m, f"messages[{i}]", reader, units[-1])
    extras = Texts()
    for key, value in body.items():
        extras.add("#keys", key, alone=False)
        if key not in ("messages", "model"):
            extras.add_all(key, value)
    return [*units, extras]


def read_choice(choice: Any, where: str, reader: Reader, unit: Texts, inner: str) -> None:
    """A choice of an answer (``inner="message"``) or of a stream chunk (``"delta"``)."""
    if not isinstance(choice, dict):
        reader.unknown(where, "a choice must be an object")
        unit.add_all("choice", choice)
        return
    for key, value in choice.items():
        unit.add("#keys", key, alone=False)
        if key == inner:
            read_message(value, f"{where}.{key}", reader, unit)
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
