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

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from harmscope.batching import MicroBatcher
from harmscope.errors import MissingDependencyError
from harmscope.guard.engine import Guard
from harmscope.guard.policy import Decision
from harmscope.guard.proxy import ProxyOptions
from harmscope.guard.routes import GuardService, guard_router
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
        import httpx  # noqa: F401 - the chat proxy's client
        from fastapi import FastAPI
    except ImportError as exc:
        raise MissingDependencyError("fastapi", "serve") from exc

    batcher: MicroBatcher[str, Decision] = MicroBatcher(
        guard.check,
        max_batch=max_batch,
        max_wait_s=max_wait_s,
        max_queue=max_queue,
        queue_timeout_s=queue_timeout_s,
    )
    service = GuardService(
        guard,
        batcher,
        Metrics(queue_depth=lambda: batcher.depth),
        upstream_url=upstream_url,
        api_key=api_key,
        max_body_bytes=max_body_bytes,
        auth_token=auth_token,
        timeout_s=timeout_s,
        body_timeout_s=body_timeout_s,
        proxy=proxy,
    )
    warm = min(max_batch, _WARMUP_BATCH) if warmup else 0
    open_docs = auth_token is None  # with a token, the schema needs it and the UIs are off
    app = FastAPI(
        title="harmscope guard",
        lifespan=_lifespan(service, warm),
        openapi_url="/openapi.json" if open_docs else None,
        docs_url="/docs" if open_docs else None,
        redoc_url="/redoc" if open_docs else None,
    )
    app.state.guard = guard
    app.state.metrics = service.metrics
    app.state.batcher = batcher
    app.include_router(guard_router(service))
    return app


def _lifespan(
    service: GuardService, warm: int
) -> Callable[["FastAPI"], AbstractAsyncContextManager[None]]:
    """Open the upstream client and warm up (``warm`` texts at most) before serving."""

    @asynccontextmanager
    async def lifespan(_: "FastAPI") -> AsyncIterator[None]:
        service.upstream_client()
        if warm:  # load models, and grow the allocator to a full batch, before serving
            await _warm_up(service.guard, warm)
        try:
            yield
        finally:
            await service.close()

    return lifespan


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


def serve(guard: Guard, *, threads: int | None = DEFAULT_THREADS, **options: Any) -> None:
    """Run the service with uvicorn until interrupted.

    Options named like :func:`uvicorn_config`'s (``host``, ``port``, ``max_header_bytes``,
    ``max_connections``) configure uvicorn; the rest go to :func:`create_app`.

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
    listen = {k: options.pop(k) for k in _LISTEN_OPTIONS if k in options}
    config = uvicorn_config(create_app(guard, **options), **listen)
    import uvicorn

    uvicorn.Server(config).run()


_LISTEN_OPTIONS = ("host", "port", "max_header_bytes", "max_connections")
"""The options of :func:`serve` that go to :func:`uvicorn_config`."""


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
