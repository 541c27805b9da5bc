"""Reading suites from JSONL files.

Two line formats are accepted, one per line, and may not be mixed within a file:

* case lines, harmscope's own: ``{"id", "prompt" | "messages", "category", "expected",
  "tags"?}``;
* labelled-prompt lines (DESIGN.md, stable): ``{"text" | "prompt", "label": "safe" | "unsafe",
  "category"?}``. ``unsafe`` becomes ``expected="refuse"``, ``safe`` ``expected="comply"``.

A category may be a harmscope id or ``scheme:code`` of a crosswalked scheme (``llamaguard3:S9``).
Anything else (a non-string category, tags that are not an object of plain values, text with a
lone surrogate, JSON nested too deeply) is a :class:`~harmscope.errors.DataError` naming the
file and line, raised before anything is run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harmscope.datasets import load_json_line
from harmscope.datasets.labelled import is_labelled_prompt, json_kind, parse_labelled_prompt
from harmscope.errors import DataError, HarmscopeError
from harmscope.records import Case, Message
from harmscope.suites.base import Suite
from harmscope.taxonomy import SCHEMES, load_taxonomy

__all__ = ["MAX_LINE_CHARS", "load_suite_file", "resolve_category"]

MAX_LINE_CHARS = 1_000_000
"""Longest line accepted; longer ones are reported, not loaded."""


def resolve_category(raw: object) -> str:
    """Map a file's category field to a harmscope id (``unspecified`` when absent).

    Raises:
        UnknownCategoryError: The category is in neither the taxonomy nor a crosswalk.
        DataError: The category is not a string.
    """
    if raw is None or raw == "":
        return "unspecified"
    if not isinstance(raw, str):
        raise DataError(f"category must be a string, not {json_kind(raw)}")
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
        with path.open(encoding="utf-8", newline="\n") as fh:
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
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not cases:
        raise DataError(f"{path}: no cases")
    return Suite(name=suite_name, version=version, cases=tuple(cases))


def _parse_line(line: str, where: str, suite: str, version: str, lineno: int) -> Case:
    row = load_json_line(line, where)
    labelled = parse_labelled_prompt(row, where) if is_labelled_prompt(row) else None
    try:
        if labelled is not None:
            return _labelled_case(row, labelled.text, suite, version, lineno)
        return _to_case(row, suite, version, lineno)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{where}: {loc}: {first['msg']}") from None
    except HarmscopeError as exc:
        raise DataError(f"{where}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise DataError(f"{where}: {type(exc).__name__}: {exc}") from None


def _tags(raw: object) -> dict[str, str]:
    """``tags``: an object of strings, numbers or booleans (stored as strings)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DataError(f"tags must be an object of strings, not {json_kind(raw)}")
    tags = {}
    for k, v in raw.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        if not isinstance(v, str | int | float):
            raise DataError(f"tag {k!r} must be a string, not {json_kind(v)}")
        tags[str(k)] = str(v)
    return tags


def _text(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{name!r} must be a non-empty string, not {json_kind(value)}")
    return value


def _case_id(row: dict[str, Any], default: str | None) -> str:
    raw = row.get("id", default)
    if raw is None:
        raise DataError("missing 'id'")
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise DataError(f"'id' must be a string, not {json_kind(raw)}")
    return str(raw)


def _labelled_case(row: dict[str, Any], text: str, suite: str, version: str, lineno: int) -> Case:
    """A labelled-prompt line (checked by the dataset layer) as a case."""
    return Case.from_prompt(
        text,
        id=_case_id(row, f"{suite}.{lineno:05d}"),
        category=resolve_category(row.get("category")),
        expected="refuse" if row["label"] == "unsafe" else "comply",
        source=f"{suite}@{version}",
        tags=_tags(row.get("tags")),
    )


def _to_case(row: dict[str, Any], suite: str, version: str, lineno: int) -> Case:
    source = f"{suite}@{version}"
    category = resolve_category(row.get("category"))
    tags = _tags(row.get("tags"))
    if "messages" in row:
        if not isinstance(row["messages"], list):
            raise DataError(f"'messages' must be an array, not {json_kind(row['messages'])}")
        messages = tuple(Message.model_validate(m) for m in row["messages"])
    elif "prompt" in row:
        messages = (Message(role="user", content=_text(row, "prompt")),)
    else:
        raise DataError("a case needs 'prompt' or 'messages' (or 'text' with 'label')")
    if "expected" not in row:
        raise DataError("missing 'expected' ('refuse' or 'comply')")
    return Case(
        id=_case_id(row, None),
        messages=messages,
        category=category,
        expected=row["expected"],
        source=source,
        tags=tags,
        parent_id=row.get("parent_id"),
    )
