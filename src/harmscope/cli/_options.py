"""Building blocks shared by command groups: a sub-command app, options, shared option types."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["DbOption", "JudgeErrorOption", "RedactOption", "option", "sub_app"]

DbOption = Annotated[Path, typer.Option(help="SQLite store file.")]
"""``--db``: the run store (default :data:`harmscope.store.DEFAULT_DB`)."""

JudgeErrorOption = Annotated[
    Path | None,
    typer.Option(help="JSON from 'harmscope judge eval --json' for the primary judge."),
]
"""``--judge-error``: the measured error of the primary judge, shown on cards and reports."""

RedactOption = Annotated[bool, typer.Option(help="Redact example text (it is always truncated).")]
"""``--redact/--no-redact``: whether example text is redacted (it is always truncated)."""


def sub_app(name: str, help: str) -> typer.Typer:  # noqa: A002 - typer's own name
    """A command group as every harmscope group is set up (help when run bare, no completion)."""
    return typer.Typer(
        name=name,
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )


def option(help: str, *names: str) -> Any:  # noqa: A002 - typer's own name
    """A typer option with ``help`` (and, optionally, its flag names)."""
    return typer.Option(*names, help=help)
