"""The labelled-prompt JSON Lines format, parsed in one place.

One object a line: ``{"text" | "prompt": str, "label": "safe" | "unsafe", "category"?: str}``
(other fields are left to the caller: a suite file's ``id`` and ``tags``). The format is what
``--suite file.jsonl``, ``harmscope guard eval --data`` and ``harmscope latent --data`` accept.
Every problem is a :class:`~harmscope.errors.DataError` starting ``file:line:``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harmscope.datasets.jsonl import load_json_line, read_lines
from harmscope.datasets.records import LabelledPrompt
from harmscope.errors import DataError

__all__ = [
    "is_labelled_prompt",
    "json_kind",
    "labelled_prompts_or_none",
    "parse_labelled_prompt",
    "read_labelled_prompts",
]


def json_kind(value: object) -> str:
    """The JSON name of a value's type, for messages (``a string``, ``null``...)."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, bool | dict | list | str):
        return names[type(value)]
    return "a number" if isinstance(value, int | float) else type(value).__name__


def is_labelled_prompt(row: dict[str, Any]) -> bool:
    """Whether a parsed line is in the labelled-prompt format (it has a ``label``)."""
    return "label" in row


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_labelled_prompt(row: dict[str, Any], where: str, source: str = "") -> LabelledPrompt:
    """One labelled-prompt line (already parsed) as a record; the category is kept raw.

    Args:
        row: The line's JSON object.
        where: ``file:line``, the start of every error message.
        source: Recorded as the record's source.

    Raises:
        DataError: A label other than safe/unsafe, no non-empty string text, or a category
            that is not a string.
    """
    label = row.get("label")
    if label != "safe" and label != "unsafe":
        raise DataError(f"{where}: label must be 'safe' or 'unsafe', not {_short(label)}")
    name = "text" if "text" in row else "prompt"
    text = row.get(name)
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: {name!r} must be a non-empty string, not {json_kind(text)}")
    category = row.get("category")
    if category is not None and not isinstance(category, str):
        raise DataError(f"{where}: category must be a string, not {json_kind(category)}")
    return LabelledPrompt(text, label, category or None, source)


def _read(path: str | Path, source: str, cases_ok: bool) -> list[LabelledPrompt] | None:
    rows: list[LabelledPrompt] = []
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        obj = load_json_line(line, where)
        if cases_ok and not rows and not is_labelled_prompt(obj):
            return None
        rows.append(parse_labelled_prompt(obj, where, source))
    if not rows:
        raise DataError(f"{path}: no labelled rows")
    return rows


def read_labelled_prompts(path: str | Path, source: str = "") -> list[LabelledPrompt]:
    """Every line of a labelled-prompt file (blank lines skipped).

    Args:
        path: The file.
        source: Recorded as each record's source.

    Raises:
        DataError: The file is missing, not UTF-8, a line is malformed (naming ``file:line``)
            or the file holds no rows.
    """
    rows = _read(path, source, cases_ok=False)
    assert rows is not None  # only None when cases_ok
    return rows


def labelled_prompts_or_none(path: str | Path, source: str = "") -> list[LabelledPrompt] | None:
    """Like :func:`read_labelled_prompts`, but ``None`` when the file holds suite case lines.

    A file whose first object has no ``label`` holds case lines instead (see
    :mod:`harmscope.suites.files`).

    Raises:
        DataError: As :func:`read_labelled_prompts`.
    """
    return _read(path, source, cases_ok=True)
