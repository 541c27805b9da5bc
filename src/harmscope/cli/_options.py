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


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
"""``--json``: print the command's result as one JSON object (its result model's dump)."""

DataDirOption = Annotated[
    str | None, typer.Option(help="Folder of public datasets (else $HARMSCOPE_DATA_DIR).")
]
"""``--data-dir``: where the public datasets are."""

MaxTokensOption = Annotated[
    int | None,
    typer.Option(min=1, help="Stop (resumable) before ~N tokens (prompt + completion) are spent."),
]
"""``--max-tokens``: the token cap of a run's budget (none by default)."""

TimeoutOption = Annotated[
    float | None,
    typer.Option(min=0.01, help="HTTP targets: seconds per request before it fails [120]."),
]
RetriesOption = Annotated[
    int | None,
    typer.Option(min=0, max=20, help="HTTP targets: retries of a transient failure [3]."),
]
MaxRetryWaitOption = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        help="HTTP targets: longest Retry-After waited for, in seconds; a server asking "
        "for longer fails the request at once [120].",
    ),
]
"""The HTTP target settings; unset ones keep :class:`~harmscope.config.TargetOptions`' (or,
on a resume, the stored run's)."""


def http_settings(
    timeout: float | None, retries: int | None, max_retry_wait: float | None
) -> dict[str, Any]:
    """The HTTP target settings given on the command line, as TargetOptions fields."""
    given = {"timeout_s": timeout, "retries": retries, "max_retry_wait_s": max_retry_wait}
    return {k: v for k, v in given.items() if v is not None}


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
