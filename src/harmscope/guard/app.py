"""The guard as an HTTP service (FastAPI): moderation endpoint, chat proxy, health, metrics.

* ``POST /v1/moderations`` — OpenAI's moderation request and response schema, harmscope
  categories alongside (``harmscope_categories``, ``harmscope_category_scores``);
* ``POST /v1/chat/completions`` — proxy to an OpenAI-compatible upstream with input and output
  checks (see :mod:`harmscope.guard.proxy`; streaming is buffered and checked);
* ``GET /healthz`` — liveness, open without auth;
* ``GET /metrics`` — Prometheus text (see :mod:`harmscope.guard.telemetry`).

Concurrent moderation requests are gathered by a micro-batcher into one detector call (one
embedding forward pass, in a worker thread so the event loop stays free). Under overload the
service sheds instead of queueing without end: when ``max_queue`` texts already wait, a request
gets 503 with ``Retry-After`` at once; a text still waiting after ``queue_timeout_s`` is
dropped (503); a client that disconnects takes its texts out of the queue. Dropped texts are
never computed (counts in ``/metrics``).

Errors reach clients as OpenAI-style JSON (``{"error": {...}}``): 401 without the bearer token
when one is set, 413 over the body limit, 408 when the body does not arrive within
``body_timeout_s``, 400 for invalid JSON, a lone UTF-16 surrogate or nesting deeper than
:data:`~harmscope.guard.schemas.MAX_JSON_DEPTH`, 422 for a body of the wrong shape, 503 when
overloaded, 502 when the upstream fails, 500 (no traceback) otherwise. With a token set,
``/openapi.json`` needs it too and ``/docs`` and ``/redoc`` are off. :func:`serve` runs uvicorn
with a header size limit (431 above it).
"""

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from harmscope.errors import MissingDependencyError
from harmscope.guard.engine import Guard, MicroBatcher, QueueFull, QueueTimeout
from harmscope.guard.policy import Decision
from harmscope.guard.proxy import ProxyError, ProxyOptions, proxy_chat
from harmscope.guard.schemas import (
    ErrorResponse,
    ModerationRequest,
    ModerationResponse,
    error_body,
    json_problem,
    moderation_response,
    request_schema,
)
from harmscope.guard.telemetry import Metrics

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "DEFAULT_BODY_TIMEOUT_S",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_QUEUE_TIMEOUT_S",
    "DEFAULT_THREADS",
    "create_app",
    "serve",
    "uvicorn_config",
]

DEFAULT_MAX_BODY_BYTES = 1_000_000
"""Largest request body accepted (bytes)."""
DEFAULT_MAX_QUEUE = 256
"""Most texts waiting for the detector before requests get 503 (one full request fits).

``guard serve`` defaults to the tighter values measured on 2 CPU cores with MiniLM (README,
capacity): 8 texts per batch, 8 waiting, 0.25 s in the queue."""
DEFAULT_QUEUE_TIMEOUT_S = 5.0
"""Longest a text waits for the detector before it is dropped with 503."""
DEFAULT_BODY_TIMEOUT_S = 5.0
"""Longest wait for a request body to arrive in full before 408."""
DEFAULT_MAX_HEADER_BYTES = 16_384
"""Largest request head (request line and headers) before 431."""
DEFAULT_THREADS = 1
"""Torch intra-op threads in :func:`serve` (see README, capacity)."""
RETRY_AFTER_S = 1
"""``Retry-After`` sent with 503 when overloaded."""

log = logging.getLogger(__name__)

_WARMUP_TEXT = " ".join(["Warm up the guard with a long ordinary sentence about gardening."] * 14)
"""About 900 characters: past the embedder's 256 tokens, under the windowing length."""
_WARMUP_BATCH = 8
"""Texts in the warm-up call at most (``guard serve``'s batch size)."""


async def _warm_up(guard: Guard, batch: int) -> None:
    """Run the detectors over every batch size up to ``batch`` at short, middle and full length.

    The CPU allocator keeps a working set per tensor shape it has seen; serving traffic of
    varying shapes grew it by about 50 MB in the first seconds after a single full-batch
    warm-up. Meeting those shapes here grows it before the first request instead.
    """
    for size in range(1, batch + 1):
        for chars in (60, 300, len(_WARMUP_TEXT)):
            await guard.check([_WARMUP_TEXT[:chars]] * size)


class _ClientError(Exception):
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


class _Disconnected(Exception):
    """The client went away before its answer was ready."""


def _overloaded(exc: Exception, reason: str) -> _ClientError:
    return _ClientError(
        503,
        str(exc),
        kind="server_error",
        code=reason,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _queue_errors_as_503(answer: Awaitable[Any]) -> Any:
    """``answer``, with the batcher's load errors (from any endpoint) turned into 503."""
    try:
        return await answer
    except QueueFull as exc:
        raise _overloaded(exc, "queue_full") from None
    except QueueTimeout as exc:
        raise _overloaded(exc, "queue_timeout") from None


_ERRORS: dict[int | str, dict[str, Any]] = {
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
    max_queue: int | None = DEFAULT_MAX_QUEUE,
    queue_timeout_s: float | None = DEFAULT_QUEUE_TIMEOUT_S,
    body_timeout_s: float | None = DEFAULT_BODY_TIMEOUT_S,
    warmup: bool = True,
    proxy: ProxyOptions | None = None,
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
        max_queue: Most texts waiting for the detector; a request that would exceed it gets
            503 with ``Retry-After`` at once (``None``: unbounded).
        queue_timeout_s: A text waiting longer is dropped and its request gets 503.
        body_timeout_s: A request body not received in full within this many seconds gets
            408 (``None``: wait forever).
        warmup: Run the detectors once at startup on a batch of long texts, so the
            first requests are not slow and memory reaches its working set before serving.
        proxy: How the chat proxy treats shapes and parts it cannot read (default: refuse
            them; see :class:`~harmscope.guard.proxy.ProxyOptions`).

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

    batcher: MicroBatcher[str, Decision] = MicroBatcher(
        guard.check,
        max_batch=max_batch,
        max_wait_s=max_wait_s,
        max_queue=max_queue,
        queue_timeout_s=queue_timeout_s,
    )
    metrics = Metrics(queue_depth=lambda: batcher.depth)
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
        if warmup:  # load models, and grow the allocator to a full batch, before serving
            await _warm_up(guard, min(max_batch, _WARMUP_BATCH))
        try:
            yield
        finally:
            await state.pop("client").aclose()

    open_docs = auth_token is None  # with a token, the schema needs it and the UIs are off
    app = FastAPI(
        title="harmscope guard",
        lifespan=lifespan,
        openapi_url="/openapi.json" if open_docs else None,
        docs_url="/docs" if open_docs else None,
        redoc_url="/redoc" if open_docs else None,
    )
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

    async def read_body(request: Request) -> bytes:
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > max_body_bytes:
                raise _ClientError(413, f"request body larger than {max_body_bytes} bytes")
        return bytes(body)

    async def read_json(request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body_bytes:
            raise _ClientError(413, f"request body larger than {max_body_bytes} bytes")
        try:
            async with asyncio.timeout(body_timeout_s):
                body = await read_body(request)
        except TimeoutError:
            raise _ClientError(
                408,
                f"request body not received within {body_timeout_s:g} s",
                headers={"Connection": "close"},
            ) from None
        try:
            value = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _ClientError(400, f"request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise _ClientError(400, "request body is nested too deeply") from None
        problem = json_problem(value)
        if problem is not None:
            raise _ClientError(400, problem)
        return value

    async def until_disconnect(request: Request) -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    async def check_texts(request: Request, texts: list[str]) -> list[Decision]:
        """Decisions for ``texts``, dropped from the queue if the client leaves first."""
        work = asyncio.ensure_future(batcher.submit_many(texts))
        gone = asyncio.ensure_future(until_disconnect(request))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not work.done():
                work.cancel()
        if not work.done() or work.cancelled():
            raise _Disconnected
        return work.result()

    async def respond(endpoint: str, request: Request, handler: Any) -> Response:
        start = time.perf_counter()
        try:
            response: Response = await _queue_errors_as_503(handler(request))
        except (_ClientError, ProxyError) as exc:
            kind = "authentication_error" if exc.status == 401 else "invalid_request_error"
            if exc.status >= 500:
                kind = "upstream_error"
            extra = exc if isinstance(exc, _ClientError) else None
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
            if exc.status == 503 and extra is not None and extra.code is not None:
                metrics.observe_shed(extra.code)
        except _Disconnected:
            metrics.observe_shed("disconnected")
            response = JSONResponse(  # nobody reads it; 499 as nginx logs it
                error_body("client closed the request", code="client_closed"), status_code=499
            )
        except Exception:
            log.exception("guard request failed")
            response = JSONResponse(
                error_body("internal error", kind="server_error"), status_code=500
            )
        metrics.observe_request(endpoint, response.status_code, time.perf_counter() - start)
        return response

    async def moderate(request: Request) -> Response:
        check_auth(request)
        if batcher.full():  # shed before reading the body
            raise _overloaded(QueueFull("guard queue full; retry later"), "queue_full")
        raw = await read_json(request)
        try:
            req = ModerationRequest.model_validate(raw)
        except ValidationError as exc:
            raise _ClientError(422, _validation_message(exc)) from None
        decisions = await check_texts(request, req.texts())
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
            options=proxy,
        )
        metrics.observe_texts(
            "chat", [d.categories or ("any",) if d.flagged else () for d in decisions]
        )
        return response

    async def render_metrics(request: Request) -> Response:
        check_auth(request)
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    async def render_schema(request: Request) -> Response:
        check_auth(request)
        return JSONResponse(app.openapi())

    @app.post(
        "/v1/moderations",
        response_model=None,
        responses={200: {"model": ModerationResponse}, **_ERRORS},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": request_schema()}},
            }
        },
    )
    async def moderations_endpoint(request: Request) -> Response:
        return await respond("moderations", request, moderate)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_endpoint(request: Request) -> Response:
        return await respond("chat", request, chat)

    @app.get(
        "/metrics",
        response_model=None,
        response_class=PlainTextResponse,
        responses={200: {"description": "Prometheus text exposition"}, 401: _ERRORS[401]},
    )
    async def metrics_endpoint(request: Request) -> Response:
        return await respond("metrics", request, render_metrics)

    if not open_docs:

        @app.get("/openapi.json", include_in_schema=False)
        async def schema_endpoint(request: Request) -> Response:
            return await respond("openapi", request, render_schema)

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


def uvicorn_config(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    max_connections: int | None = 1024,
    log_level: str = "info",
) -> Any:
    """The uvicorn configuration :func:`serve` runs ``app`` with.

    A request head larger than ``max_header_bytes`` gets 431; beyond ``max_connections`` open
    connections uvicorn answers 503 before the app sees the request.

    Raises:
        MissingDependencyError: uvicorn is not installed (extra ``serve``).
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError("uvicorn", "serve") from exc
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_h11_protocol(),
        h11_max_incomplete_event_size=max_header_bytes,
        limit_concurrency=max_connections,
        log_level=log_level,
    )


def serve(
    guard: Guard,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    max_connections: int | None = 1024,
    threads: int | None = DEFAULT_THREADS,
    **options: Any,
) -> None:
    """Run the service with uvicorn until interrupted (options as for :func:`create_app`).

    ``threads`` sets torch's intra-op threads for the detector's forward passes (``None``:
    torch's choice, one per core). One leaves a core to the event loop, which must keep
    answering (and shedding) while a batch computes.

    Raises:
        MissingDependencyError: uvicorn is not installed (extra ``serve``).
    """
    if threads:
        try:
            import torch
        except ImportError:
            pass
        else:
            torch.set_num_threads(threads)
    config = uvicorn_config(
        create_app(guard, **options),
        host=host,
        port=port,
        max_header_bytes=max_header_bytes,
        max_connections=max_connections,
    )
    import uvicorn

    uvicorn.Server(config).run()


def _h11_protocol() -> type:
    """The h11 protocol of uvicorn, answering 431 (not 400) to a request head over the limit."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.error_status = 400
            next_event = self.conn.next_event

            limit = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_HEADER_BYTES

            def remember_hint() -> Any:
                # h11 limits only a head that arrives in pieces; one read can hold a larger one.
                try:
                    event = next_event()
                except h11.RemoteProtocolError as exc:
                    self.error_status = exc.error_status_hint
                    raise
                if isinstance(event, h11.Request):
                    size = len(event.method) + len(event.target)
                    size += sum(len(k) + len(v) + 4 for k, v in event.headers)
                    if size > limit:
                        self.error_status = 431
                        raise h11.RemoteProtocolError("request head too large", 431)
                return event

            setattr(self.conn, "next_event", remember_hint)  # noqa: B010

        def send_400_response(self, msg: str) -> None:
            if self.error_status != 431:
                super().send_400_response(msg)
                return
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
            for event in (
                h11.Response(
                    status_code=431, headers=headers, reason=b"Request Header Fields Too Large"
                ),
                h11.Data(data=b"Request header fields too large."),
                h11.EndOfMessage(),
            ):
                output = self.conn.send(event)
                if output:
                    self.transport.write(output)
            self.transport.close()

    return GuardH11Protocol
