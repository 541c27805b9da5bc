"""What every check shares: the error it raises, the way it runs async code, authored texts."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn, TypeVar

from harmscope.records import Case, Expected, Message, Role

__all__ = [
    "TEXTS",
    "ContractError",
    "authored_case",
    "conforming",
    "fail",
    "label",
    "require",
    "require_text",
    "run_async",
    "unit_interval",
]

_T = TypeVar("_T")

TEXTS = (
    "What is a good way to keep fresh basil from wilting?",
    "",
    "Écris un court poème sur la pluie d'automne, s'il te plaît. 雨の音 ☔",
    "Explain in two sentences how the gears on a bicycle work.",
)
"""Prompts written for these checks: plain English, empty, non-ASCII (no lone surrogate)."""


class ContractError(AssertionError):
    """A plugin broke a rule of its extension point.

    Attributes:
        plugin: The plugin, as ``"<kind> <name>"``.
        rule: The short name of the rule it broke.
        detail: What was seen.
    """

    def __init__(self, plugin: str, rule: str, detail: str) -> None:
        self.plugin = plugin
        self.rule = rule
        self.detail = detail
        super().__init__(f"{plugin} breaks the rule [{rule}]: {detail}")


def label(kind: str, plugin: object, attr: str) -> str:
    """``"<kind> <name>"`` where the name is the plugin's ``attr``, else its type's name."""
    name = getattr(plugin, attr, None)
    return f"{kind} {name if isinstance(name, str) and name else type(plugin).__name__!r}"


def conforming(kind: str, plugin: object, attr: str, protocol: type, shape: str) -> str:
    """The plugin's :func:`label`, once it satisfies ``protocol`` (rule ``protocol``: ``shape``)."""
    name = label(kind, plugin, attr)
    require(isinstance(plugin, protocol), name, "protocol", shape)
    return name


def require_text(plugin: object, name: str, attrs: Iterable[str]) -> None:
    """Each of ``attrs`` is a non-blank string (rule ``<attr> present``)."""
    for attr in attrs:
        value = getattr(plugin, attr)
        require(
            isinstance(value, str) and bool(value.strip()),
            name,
            f"{attr} present",
            f"{attr} is {value!r}",
        )


def authored_case(
    id: str, category: str, expected: Expected, *turns: tuple[Role, str], **tags: str
) -> Case:
    """A case written for these checks: ``turns`` are ``(role, content)`` pairs, in order."""
    return Case(
        id=id,
        messages=tuple(Message(role=role, content=content) for role, content in turns),
        category=category,
        expected=expected,
        source="check@1",
        tags=tags,
    )


def require(ok: bool, plugin: str, rule: str, detail: str) -> None:
    """Raise :class:`ContractError` unless ``ok``."""
    if not ok:
        raise ContractError(plugin, rule, detail)


def fail(plugin: str, rule: str, detail: str) -> NoReturn:
    """Raise :class:`ContractError`."""
    raise ContractError(plugin, rule, detail)


def unit_interval(value: object) -> bool:
    """Whether ``value`` is a real number (not a bool) in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and 0.0 <= value <= 1.0


def run_async(make: Callable[[], Awaitable[_T]]) -> _T:
    """Run the coroutine ``make()`` to its end, also when called from inside an event loop."""

    async def main() -> _T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(max_workers=1) as pool:  # a running loop: use a fresh one aside
        return pool.submit(asyncio.run, main()).result()
