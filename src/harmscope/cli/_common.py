"""Helpers shared by the commands: consoles, errors, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from rich.console import Console

__all__ = ["err", "fail", "out", "print_json"]

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` to stderr and exit."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise SystemExit(code)


def print_json(obj: Any) -> None:
    """Exactly one JSON object on stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()
