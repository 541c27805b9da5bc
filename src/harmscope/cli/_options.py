"""Building blocks shared by command groups: a sub-command app and one-line options."""

from __future__ import annotations

from typing import Any

import typer

__all__ = ["option", "sub_app"]


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
