"""The guard as an HTTP service (FastAPI): moderation endpoint, chat proxy, health, metrics.

* ``POST /v1/moderations`` — OpenAI's moderation request and response schema, harmscope
  categories alongside (``harmscope_categories``, ``harmscope_category_scores``);
* ``POST /v1/chat/completions`` — proxy to an OpenAI-compatible upstream with input and output
  checks (see :mod:`harmscope.guard.proxy`; streaming is buffered and checked);
* ``GET /healthz`` — liveness, open without auth;
* ``GET /metrics`` — Prometheus text (see :mod:`harmscope.guard.telemetry`).

Concurrent moderation requests are gathered by a micro-batcher into one detector call (one
embedding forward pass). Errors reach clients as OpenAI-style JSON (``{"error": {...}}``):
401 without the bearer token when one is set, 413 over the body limit, 400 for invalid JSON,
422 for a body of the wrong shape, 502 when the upstream fails, 500 (no traceback) otherwise.
"""

import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from harmscope.errors import MissingDependencyError
from harmscope.guard.engine import Guard, MicroBatcher
from harmscope.guard.policy import Decision
from harmscope.guard.proxy import ProxyError, proxy_chat
from harmscope.guard.schemas import ModerationRequest, error_body, moderation_response
from harmscope.guard.telemetry import Metrics

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["DEFAULT_MAX_BODY_BYTES", "create_app"]

DEFAULT_MAX_BODY_BYTES = 1_000_000
"""Largest request body accepted (bytes)."""

log = logging.getLogger(__name__)


class _ClientError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(
    guard: Guard,
    *,
    upstream_url: str | None = None,
    api_key: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    auth_token: str | None = None,
    timeout_s: float = 120.0,
    max_batch: int = 64,
    max_wait_s: float = 0.003,
    warmup: bool = True,
) -> "FastAPI":
    """Build the guard service.

    Args:
        guard: Detectors and policy that decide.
        upstream_url: Base URL of the OpenAI-compatible model behind the chat proxy
            (``http://host:port/v1``); without it the proxy answers 501.
        api_key: Bearer key sent to the upstream.
        max_body_bytes: Larger request bodies get 413.
        auth_token: When set, ``/v1/*`` and ``/metrics`` require ``Authorization: Bearer``.
        timeout_s: Upstream request timeout.
        max_batch: Most texts per detector call.
        max_wait_s: How long a request waits for companions to share a batch.
        warmup: Run the detectors once at startup so the first request is not slow.

    Raises:
        MissingDependencyError: FastAPI is not installed (extra ``serve``).
    """
    try:
        import httpx
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse, PlainTextResponse
        from starlette.responses import Response
    except ImportError as exc:
        raise MissingDependencyError("fastapi", "serve") from exc

    metrics = Metrics()
    batcher: MicroBatcher[str, Decision] = MicroBatcher(
        guard.check, max_batch=max_batch, max_wait_s=max_wait_s
    )
    state: dict[str, Any] = {}

    def upstream_client() -> httpx.AsyncClient:
        # Made at startup; made on first use when the host skips the lifespan (ASGITransport).
        if "client" not in state:
            state["client"] = httpx.AsyncClient(timeout=timeout_s)
        client: httpx.AsyncClient = state["client"]
        return client

    @asynccontextmanager
    async def lifespan(_: "FastAPI") -> AsyncIterator[None]:
        upstream_client()
        if warmup:  # load models now, not on the first request
            await guard.check(["warm up"])
        try:
            yield
        finally:
            await state.pop("client").aclose()

    app = FastAPI(title="harmscope guard", lifespan=lifespan)
    app.state.guard = guard
    app.state.metrics = metrics
    app.state.batcher = batcher

    def check_auth(request: Request) -> None:
        if auth_token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            token.strip().encode(), auth_token.encode()
        ):
            raise _ClientError(401, "missing or invalid bearer token")

    async def read_json(request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body_bytes:
            raise _ClientError(413, f"request body larger than {max_body_bytes} bytes")
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > max_body_bytes:
                raise _ClientError(413, f"request body larger than {max_body_bytes} bytes")
        import json

        try:
            return json.loads(bytes(body))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _ClientError(400, f"request body is not valid JSON: {exc}") from None

    async def respond(endpoint: str, request: Request, handler: Any) -> Response:
        start = time.perf_counter()
        try:
            response: Response = await handler(request)
        except (_ClientError, ProxyError) as exc:
            kind = "authentication_error" if exc.status == 401 else "invalid_request_error"
            if exc.status >= 500:
                kind = "upstream_error"
            response = JSONResponse(error_body(exc.message, kind=kind), status_code=exc.status)
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
        except Exception:
            log.exception("guard request failed")
            response = JSONResponse(
                error_body("internal error", kind="server_error"), status_code=500
            )
        metrics.observe_request(endpoint, response.status_code, time.perf_counter() - start)
        return response

    async def moderate(request: Request) -> Response:
        check_auth(request)
        raw = await read_json(request)
        try:
            req = ModerationRequest.model_validate(raw)
        except ValidationError as exc:
            raise _ClientError(422, _validation_message(exc)) from None
        decisions = await batcher.submit_many(req.texts())
        metrics.observe_texts(
            "moderations", [d.categories or ("any",) if d.flagged else () for d in decisions]
        )
        return JSONResponse(moderation_response(decisions, model=guard.name))

    async def chat(request: Request) -> Response:
        check_auth(request)
        if upstream_url is None:
            raise _ClientError(501, "no upstream model configured for the chat proxy")
        raw = await read_json(request)
        if not isinstance(raw, dict):
            raise _ClientError(422, "request body must be a JSON object")
        response, decisions = await proxy_chat(
            raw,
            check=batcher.submit_many,
            client=upstream_client(),
            upstream_url=upstream_url,
            api_key=api_key,
        )
        metrics.observe_texts(
            "chat", [d.categories or ("any",) if d.flagged else () for d in decisions]
        )
        return response

    async def render_metrics(request: Request) -> Response:
        check_auth(request)
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/moderations", response_model=None)
    async def moderations_endpoint(request: Request) -> Response:
        return await respond("moderations", request, moderate)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_endpoint(request: Request) -> Response:
        return await respond("chat", request, chat)

    @app.get("/metrics", response_model=None)
    async def metrics_endpoint(request: Request) -> Response:
        return await respond("metrics", request, render_metrics)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "model": guard.name}

    return app


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("list[")) or "body"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid request: " + "; ".join(parts)


def serve(guard: Guard, *, host: str = "127.0.0.1", port: int = 8080, **options: Any) -> None:
    """Run the service with uvicorn until interrupted (options as for :func:`create_app`).

    Raises:
        MissingDependencyError: uvicorn is not installed (extra ``serve``).
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError("uvicorn", "serve") from exc
    uvicorn.run(create_app(guard, **options), host=host, port=port)
