"""The guard service's endpoints: moderations, chat proxy, metrics, schema and health.

:class:`GuardService` holds what the endpoints share (guard, batcher, metrics, limits, the
upstream client); :func:`guard_router` turns it into a FastAPI ``APIRouter``. Every endpoint
except ``/healthz`` goes through :meth:`GuardService.respond`, which maps errors to
OpenAI-style JSON and records the request in the metrics.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from harmscope.batching import MicroBatcher, QueueFull
from harmscope.guard.engine import Guard
from harmscope.guard.limits import (
    ClientError,
    Disconnected,
    check_auth,
    error_response,
    overloaded,
    queue_errors_as_503,
    read_json,
    validation_message,
)
from harmscope.guard.policy import Decision
from harmscope.guard.proxy import ProxyError, ProxyOptions, proxy_chat
from harmscope.guard.schemas import (
    ErrorResponse,
    ModerationRequest,
    ModerationResponse,
    error_body,
    moderation_response,
    request_schema,
)
from harmscope.guard.telemetry import Metrics

if TYPE_CHECKING:
    import httpx
    from fastapi import APIRouter
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["ERRORS", "GuardService", "guard_router"]

log = logging.getLogger(__name__)

Handler = Callable[["Request"], Awaitable["Response"]]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in [
        (400, "Invalid JSON, a lone surrogate or too deep nesting"),
        (401, "Missing or invalid bearer token"),
        (408, "Request body not received in time"),
        (413, "Request body too large"),
        (422, "Body of the wrong shape"),
        (503, "Overloaded; retry after Retry-After seconds"),
    ]
}
"""Error responses listed in the OpenAPI schema."""


def _flag_labels(decisions: list[Decision]) -> list[tuple[str, ...]]:
    return [d.categories or ("any",) if d.flagged else () for d in decisions]


async def _until_disconnect(request: "Request") -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


@dataclass
class GuardService:
    """What the endpoints share (arguments as for :func:`~harmscope.guard.app.create_app`)."""

    guard: Guard
    batcher: MicroBatcher[str, Decision]
    metrics: Metrics
    upstream_url: str | None = None
    api_key: str | None = None
    max_body_bytes: int = 1_000_000
    auth_token: str | None = None
    timeout_s: float = 120.0
    body_timeout_s: float | None = 5.0
    proxy: ProxyOptions | None = None
    client: "httpx.AsyncClient | None" = field(default=None, repr=False)

    def upstream_client(self) -> "httpx.AsyncClient":
        """The upstream client; made on first use when the host skips the lifespan."""
        import httpx

        if self.client is None:
            self.client = httpx.AsyncClient(timeout=self.timeout_s)
        return self.client

    async def close(self) -> None:
        """Close the upstream client."""
        if self.client is not None:
            client, self.client = self.client, None
            await client.aclose()

    async def check_texts(self, request: "Request", texts: list[str]) -> list[Decision]:
        """Decisions for ``texts``, dropped from the queue if the client leaves first."""
        work = asyncio.ensure_future(self.batcher.submit_many(texts))
        gone = asyncio.ensure_future(_until_disconnect(request))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not work.done():
                work.cancel()
        if not work.done() or work.cancelled():
            raise Disconnected
        return work.result()

    async def respond(self, endpoint: str, request: "Request", handler: Handler) -> "Response":
        """Run ``handler``, map its errors to JSON and record the request."""
        from fastapi.responses import JSONResponse

        start = time.perf_counter()
        try:
            response: Response = await queue_errors_as_503(handler(request))
        except (ClientError, ProxyError) as exc:
            response = error_response(exc)
            if isinstance(exc, ClientError) and exc.status == 503 and exc.code is not None:
                self.metrics.observe_shed(exc.code)
        except Disconnected:
            self.metrics.observe_shed("disconnected")
            response = JSONResponse(  # nobody reads it; 499 as nginx logs it
                error_body("client closed the request", code="client_closed"), status_code=499
            )
        except Exception:
            log.exception("guard request failed")
            response = JSONResponse(
                error_body("internal error", kind="server_error"), status_code=500
            )
        self.metrics.observe_request(endpoint, response.status_code, time.perf_counter() - start)
        return response

    async def moderate(self, request: "Request") -> "Response":
        """``POST /v1/moderations``."""
        from fastapi.responses import JSONResponse

        check_auth(request, self.auth_token)
        if self.batcher.full():  # shed before reading the body
            raise overloaded(QueueFull("guard queue full; retry later"), "queue_full")
        raw = await read_json(request, self.max_body_bytes, self.body_timeout_s)
        try:
            req = ModerationRequest.model_validate(raw)
        except ValidationError as exc:
            raise ClientError(422, validation_message(exc)) from None
        decisions = await self.check_texts(request, req.texts())
        self.metrics.observe_texts("moderations", _flag_labels(decisions))
        return JSONResponse(moderation_response(decisions, model=self.guard.name))

    async def chat(self, request: "Request") -> "Response":
        """``POST /v1/chat/completions``."""
        check_auth(request, self.auth_token)
        if self.upstream_url is None:
            raise ClientError(501, "no upstream model configured for the chat proxy")
        raw = await read_json(request, self.max_body_bytes, self.body_timeout_s)
        if not isinstance(raw, dict):
            raise ClientError(422, "request body must be a JSON object")
        response, decisions = await proxy_chat(
            raw,
            check=self.batcher.submit_many,
            client=self.upstream_client(),
            upstream_url=self.upstream_url,
            api_key=self.api_key,
            options=self.proxy,
        )
        self.metrics.observe_texts("chat", _flag_labels(decisions))
        return response

    async def render_metrics(self, request: "Request") -> "Response":
        """``GET /metrics``."""
        from fastapi.responses import PlainTextResponse

        check_auth(request, self.auth_token)
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")

    async def render_schema(self, request: "Request") -> "Response":
        """``GET /openapi.json`` behind the token."""
        from fastapi.responses import JSONResponse

        check_auth(request, self.auth_token)
        return JSONResponse(request.app.openapi())


def guard_router(service: GuardService) -> "APIRouter":
    """The service's endpoints (``/openapi.json`` too when a token guards it)."""
    from fastapi import APIRouter, Request
    from fastapi.responses import PlainTextResponse
    from starlette.responses import Response

    router = APIRouter()
    schema = {"application/json": {"schema": request_schema()}}

    @router.post(
        "/v1/moderations",
        response_model=None,
        responses={200: {"model": ModerationResponse}, **ERRORS},
        openapi_extra={"requestBody": {"required": True, "content": schema}},
    )
    async def moderations_endpoint(request: Request) -> Response:
        return await service.respond("moderations", request, service.moderate)

    @router.post("/v1/chat/completions", response_model=None)
    async def chat_endpoint(request: Request) -> Response:
        return await service.respond("chat", request, service.chat)

    @router.get(
        "/metrics",
        response_model=None,
        response_class=PlainTextResponse,
        responses={200: {"description": "Prometheus text exposition"}, 401: ERRORS[401]},
    )
    async def metrics_endpoint(request: Request) -> Response:
        return await service.respond("metrics", request, service.render_metrics)

    if service.auth_token is not None:

        @router.get("/openapi.json", include_in_schema=False)
        async def schema_endpoint(request: Request) -> Response:
            return await service.respond("openapi", request, service.render_schema)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "model": service.guard.name}

    return router
