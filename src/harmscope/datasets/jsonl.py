"""One JSON value checked for use as text, and one JSON Lines line parsed with clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harmscope.errors import DataError

__all__ = ["MAX_JSON_DEPTH", "json_problem", "load_json_line", "read_lines"]

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects accepted."""

_SURROGATE = re.compile("[\ud800-\udfff]")


def json_problem(
    value: Any, *, max_depth: int = MAX_JSON_DEPTH, what: str = "request body"
) -> str | None:
    r"""Why a parsed JSON value cannot be processed, or ``None`` when it can.

    Rejects nesting deeper than ``max_depth`` and strings (values or keys) holding a lone
    UTF-16 surrogate (``"\ud800"`` escapes decode to one; no UTF-8 text can carry it, so
    neither a tokenizer nor a response could). Iterative, so any depth is safe to check.
    ``what`` names the value in the message.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if found := _SURROGATE.search(item):
                bad = found.group().encode("unicode_escape").decode()
                return f"{what} holds a lone surrogate ({bad}), not valid Unicode text"
        elif isinstance(item, dict | list):
            if depth > max_depth:
                return f"{what} is nested deeper than {max_depth} levels"
            if isinstance(item, dict):
                stack.extend((k, depth) for k in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)
    return None


def load_json_line(line: str, where: str) -> dict[str, Any]:
    """The JSON object on one line of a file, checked by :func:`json_problem`.

    Args:
        line: The line's text.
        where: ``file:line``, the start of every error message.

    Raises:
        DataError: Not JSON, not an object, too deep, or holding a lone surrogate.
    """
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise DataError(f"{where}: JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise DataError(f"{where}: not usable JSON ({exc})") from None
    if not isinstance(value, dict):
        raise DataError(f"{where}: expected a JSON object")
    problem = json_problem(value, what="line")
    if problem is not None:
        raise DataError(f"{where}: {problem}")
    return value


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file.

    Raises:
        DataError: No such file, unreadable, or not UTF-8 text (naming the file).
    """
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
