"""``check_target``: the rules of :class:`harmscope.targets.Target`."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from typing import Any

from harmscope.errors import TargetError
from harmscope.records import GenerationParams, Message, Response
from harmscope.targets.base import Target, parse_target
from harmscope.testing._contract import TEXTS, conforming, fail, require, run_async

__all__ = ["check_target"]

_HISTORY = (
    Message(role="user", content="Name one fruit that is yellow."),
    Message(role="assistant", content="A banana."),
    Message(role="user", content="And one that is red?"),
)
_SHAPE = "a target has `id`, `async generate(messages, params, *, case_id)` and `async aclose()`"
"""What the ``protocol`` rule asks for."""
_CONCURRENT = 8
"""Calls in flight at once in the concurrency rule."""


def check_target(
    target: Any, *, params: GenerationParams | None = None, allow_errors: bool = False
) -> None:
    """Check that ``target`` keeps the rules of a harmscope target.

    Rules: it satisfies :class:`~harmscope.targets.Target` with an ``id`` of the form
    ``provider/model``; ``generate`` is async, never raises for one request, and returns one
    :class:`~harmscope.records.Response` per call, for the case it was asked (``case_id``) and
    from this target (``target_id``), with text unless ``error`` says why not; the empty prompt,
    non-ASCII prompts, a system prompt and a multi-turn history are answered; calls in flight
    at once each get their own answer; ``aclose`` is async and does not raise. The target is
    closed at the end.

    Args:
        target: The target to check (it is called with a few short authored prompts).
        params: Generation settings for the calls (default: greedy, 16 new tokens).
        allow_errors: Accept responses whose ``error`` is set (a target whose backend may be
            down); by default every call must produce text.

    Raises:
        ContractError: The first rule broken, naming the target and the rule.
    """
    name = conforming("target", target, "id", Target, _SHAPE)
    require(isinstance(target.id, str), name, "id", f"id must be a str, not {target.id!r}")
    try:
        parse_target(target.id)
    except TargetError as exc:
        fail(name, "id is provider/model", str(exc))
    for method in ("generate", "aclose"):
        require(
            inspect.iscoroutinefunction(getattr(target, method)),
            name,
            f"async {method}",
            f"`{method}` must be an `async def` method",
        )
    settings = params or GenerationParams(max_new_tokens=16, temperature=0.0)
    run_async(lambda: _exercise(target, name, settings, allow_errors))


async def _exercise(target: Any, name: str, params: GenerationParams, allow_errors: bool) -> None:
    try:
        for i, text in enumerate(TEXTS):
            messages = (Message(role="user", content=text),)
            await _ask(target, name, messages, params, f"check.{i}", allow_errors)
        system = params.model_copy(update={"system_prompt": "Answer in one short sentence."})
        await _ask(target, name, _HISTORY, system, "check.history", allow_errors)
        await _concurrently(target, name, params, allow_errors)
    except BaseException:
        with contextlib.suppress(Exception):
            await target.aclose()
        raise
    await _close(target, name)


async def _ask(
    target: Any,
    name: str,
    messages: tuple[Message, ...],
    params: GenerationParams,
    case_id: str,
    allow_errors: bool,
) -> None:
    try:
        response = await target.generate(messages, params, case_id=case_id)
    except Exception as exc:  # noqa: BLE001 - the rule is that nothing escapes
        fail(
            name,
            "never raise for one request",
            f"generate raised {type(exc).__name__}: {exc} for the prompt "
            f"{messages[-1].content!r}; return Response(error=...) instead",
        )
    _check_response(target, name, response, case_id, allow_errors)


def _check_response(
    target: Any, name: str, response: object, case_id: str, allow_errors: bool
) -> None:
    require(
        isinstance(response, Response),
        name,
        "one Response per call",
        f"generate returned {type(response).__name__}, not a harmscope.records.Response",
    )
    assert isinstance(response, Response)
    require(
        response.case_id == case_id,
        name,
        "answers the case asked",
        f"the response to case {case_id!r} says case_id={response.case_id!r}",
    )
    require(
        response.target_id == target.id,
        name,
        "target_id is the target's id",
        f"target_id={response.target_id!r}, id={target.id!r}",
    )
    if response.error is None:
        require(
            response.text is not None,
            name,
            "text unless error",
            f"case {case_id!r}: neither text nor error set",
        )
    else:
        require(
            allow_errors,
            name,
            "answers the authored prompts",
            f"case {case_id!r} failed: {response.error} (pass allow_errors=True to accept this)",
        )
    require(response.latency_s >= 0.0, name, "latency", f"negative latency {response.latency_s}")


async def _concurrently(
    target: Any, name: str, params: GenerationParams, allow_errors: bool
) -> None:
    prompts = [TEXTS[i % len(TEXTS)] for i in range(_CONCURRENT)]
    ids = [f"check.concurrent.{i}" for i in range(_CONCURRENT)]
    calls = [
        target.generate((Message(role="user", content=p),), params, case_id=c)
        for p, c in zip(prompts, ids, strict=True)
    ]
    try:
        responses = await asyncio.gather(*calls)
    except Exception as exc:  # noqa: BLE001
        fail(
            name,
            "async-safe",
            f"{_CONCURRENT} calls at once raised {type(exc).__name__}: {exc}",
        )
    for case_id, response in zip(ids, responses, strict=True):
        if isinstance(response, Response) and response.case_id != case_id:
            fail(
                name,
                "async-safe",
                f"with {_CONCURRENT} calls at once, the answer to {case_id!r} came back for "
                f"{response.case_id!r}: calls share state",
            )
        _check_response(target, name, response, case_id, allow_errors)


async def _close(target: Any, name: str) -> None:
    try:
        await target.aclose()
    except Exception as exc:  # noqa: BLE001
        fail(name, "aclose", f"aclose raised {type(exc).__name__}: {exc}")
