"""Reading suites from JSONL files.

Two line formats are accepted, one per line, and may not be mixed within a file:

* case lines, harmscope's own: ``{"id", "prompt" | "messages", "category", "expected",
  "tags"?}``;
* labelled-prompt lines (DESIGN.md, stable): ``{"text" | "prompt", "label": "safe" | "unsafe",
  "category"?}``. ``unsafe`` becomes ``expected="refuse"``, ``safe`` ``expected="comply"``.

A category may be a harmscope id or ``scheme:code`` of a crosswalked scheme (``llamaguard3:S9``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harmscope.errors import DataError, HarmscopeError
from harmscope.records import Case, Message
from harmscope.suites.base import Suite
from harmscope.taxonomy import SCHEMES, load_taxonomy

__all__ = ["MAX_LINE_CHARS", "load_suite_file", "resolve_category"]

MAX_LINE_CHARS = 1_000_000
"""Longest line accepted; longer ones are reported, not loaded."""


def resolve_category(raw: str | None) -> str:
    """Map a file's category field to a harmscope id (``unspecified`` when absent).

    Raises:
        UnknownCategoryError: The category is in neither the taxonomy nor a crosswalk.
    """
    if raw is None or raw == "":
        return "unspecified"
    tax = load_taxonomy()
    scheme, sep, code = raw.partition(":")
    if sep and scheme in {"harmscope", *SCHEMES}:
        return tax.to_harmscope(scheme, code)[0].id
    return tax.get(raw).id


def load_suite_file(path: str | Path, *, name: str | None = None, version: str = "file") -> Suite:
    """Load a suite from a JSONL file.

    Raises:
        DataError: The file is missing, not UTF-8 text, or a line is malformed; the message
            names the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suite_name = name or path.stem
    cases: list[Case] = []
    seen: set[str] = set()
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                if len(line) > MAX_LINE_CHARS:
                    raise DataError(f"{where}: line longer than {MAX_LINE_CHARS} characters")
                case = _parse_line(line, where, suite_name, version, lineno)
                if case.id in seen:
                    raise DataError(f"{where}: duplicate case id {case.id!r}")
                seen.add(case.id)
                cases.append(case)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not cases:
        raise DataError(f"{path}: no cases")
    return Suite(name=suite_name, version=version, cases=tuple(cases))


def _parse_line(line: str, where: str, suite: str, version: str, lineno: int) -> Case:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object")
    try:
        return _to_case(row, suite, version, lineno)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{where}: {loc}: {first['msg']}") from None
    except HarmscopeError as exc:
        raise DataError(f"{where}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{where}: {exc}") from None


def _to_case(row: dict[str, Any], suite: str, version: str, lineno: int) -> Case:
    source = f"{suite}@{version}"
    category = resolve_category(row.get("category"))
    tags = {str(k): str(v) for k, v in (row.get("tags") or {}).items()}
    if "label" in row:
        label = row["label"]
        if label not in ("safe", "unsafe"):
            raise ValueError(f"label must be 'safe' or 'unsafe', not {label!r}")
        text = row.get("text", row.get("prompt"))
        if not isinstance(text, str) or not text.strip():
            raise ValueError("missing 'text' (or 'prompt')")
        return Case.from_prompt(
            text,
            id=str(row.get("id", f"{suite}.{lineno:05d}")),
            category=category,
            expected="refuse" if label == "unsafe" else "comply",
            source=source,
            tags=tags,
        )
    if "messages" in row:
        messages = tuple(Message.model_validate(m) for m in row["messages"])
    elif isinstance(row.get("prompt"), str):
        messages = (Message(role="user", content=row["prompt"]),)
    else:
        raise ValueError("a case needs 'prompt' or 'messages' (or 'text' with 'label')")
    return Case(
        id=str(row["id"]),
        messages=messages,
        category=category,
        expected=row["expected"],
        source=source,
        tags=tags,
        parent_id=row.get("parent_id"),
    )
