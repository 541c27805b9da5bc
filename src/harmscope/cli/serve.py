"""``harmscope serve-model``: put any target behind an OpenAI-compatible endpoint."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from harmscope.cli._common import err, fail

__all__ = ["serve_model"]


def serve_model(
    target: Annotated[
        str, typer.Option(help="Target to serve, provider/model (e.g. hf/default).")
    ] = "hf/default",
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    model_name: Annotated[
        str | None, typer.Option(help="Model name reported to clients (default: the target id).")
    ] = None,
) -> None:
    """Serve a target at /v1/chat/completions (streaming too), /v1/models and /healthz."""
    from harmscope.targets import create_target
    from harmscope.targets.server import serve_target

    _check_can_listen(host, port)  # before a model is loaded for nothing
    served = create_target(target)
    err.print(f"serving {served.id} at http://{host}:{port}/v1", highlight=False)
    serve_target(served, host=host, port=port, model_name=model_name)


def _check_can_listen(host: str, port: int) -> None:
    """Fail with one line if ``host:port`` cannot be bound (in use, no such interface)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.create_server((host, port), family=family):
            pass
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
