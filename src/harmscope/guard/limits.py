"""Request limits and error mapping of the guard service.

Bearer-token check (401), body size (413), body arrival time (408), JSON that is invalid, holds
a lone surrogate or is nested too deeply (400), a body of the wrong shape (422), and the
batcher's load errors (503 with ``Retry-After``). :func:`error_response` turns any of them into
the OpenAI-style JSON error the client receives.
"""

import asyncio
import json
import secrets
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from harmscope.batching import QueueFull, QueueTimeout
from harmscope.guard.proxy import ProxyError
from harmscope.guard.schemas import error_body, json_problem

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = [
    "RETRY_AFTER_S",
    "ClientError",
    "Disconnected",
    "check_auth",
    "error_response",
    "overloaded",
    "queue_errors_as_503",
    "read_json",
    "validation_message",
]

RETRY_AFTER_S = 1
"""``Retry-After`` sent with 503 when overloaded."""


class ClientError(Exception):
    """A request refused with ``status`` (and optional error type, code and headers)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code
        self.headers = headers or {}


class Disconnected(Exception):
    """The client went away before its answer was ready."""


def overloaded(exc: Exception, reason: str) -> ClientError:
    """A 503 for a load error, with ``Retry-After`` and ``reason`` as its code."""
    return ClientError(
        503,
        str(exc),
        kind="server_error",
        code=reason,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def queue_errors_as_503(answer: Awaitable[Any]) -> Any:
    """``answer``, with the batcher's load errors (from any endpoint) turned into 503."""
    try:
        return await answer
    except QueueFull as exc:
        raise overloaded(exc, "queue_full") from None
    except QueueTimeout as exc:
        raise overloaded(exc, "queue_timeout") from None


def error_response(exc: ClientError | ProxyError) -> "Response":
    """The OpenAI-style JSON error for a refused request."""
    from fastapi.responses import JSONResponse

    kind = "authentication_error" if exc.status == 401 else "invalid_request_error"
    if exc.status >= 500:
        kind = "upstream_error"
    extra = exc if isinstance(exc, ClientError) else None
    response = JSONResponse(
        error_body(
            exc.message,
            kind=(extra.kind if extra else None) or kind,
            code=extra.code if extra else None,
        ),
        status_code=exc.status,
    )
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if extra is not None:
        response.headers.update(extra.headers)
    return response


def check_auth(request: "Request", auth_token: str | None) -> None:
    """Refuse (401) a request without the bearer token, when one is set.

    Raises:
        ClientError: Missing or wrong token.
    """
    if auth_token is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        token.strip().encode(), auth_token.encode()
    ):
        raise ClientError(401, "missing or invalid bearer token")


async def _read_body(request: "Request", max_body_bytes: int) -> bytes:
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > max_body_bytes:
            raise ClientError(413, f"request body larger than {max_body_bytes} bytes")
    return bytes(body)


async def read_json(request: "Request", max_body_bytes: int, body_timeout_s: float | None) -> Any:
    """The request body as JSON, within the size and time limits.

    Raises:
        ClientError: 413 too large, 408 too slow, 400 invalid JSON, a lone surrogate or too
            deep nesting.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body_bytes:
        raise ClientError(413, f"request body larger than {max_body_bytes} bytes")
    try:
        async with asyncio.timeout(body_timeout_s):
            body = await _read_body(request, max_body_bytes)
    except TimeoutError:
        raise ClientError(
            408,
            f"request body not received within {body_timeout_s:g} s",
            headers={"Connection": "close"},
        ) from None
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ClientError(400, f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ClientError(400, "request body is nested too deeply") from None
    problem = json_problem(value)
    if problem is not None:
        raise ClientError(400, problem)
    return value


def validation_message(exc: ValidationError) -> str:
    """The first few validation errors of a request body, as one line."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("list[")) or "body"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid request: " + "; ".join(parts)
