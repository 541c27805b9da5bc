"""Any OpenAI-compatible chat endpoint, over httpx.

``openai/<model>`` with ``--base-url`` (default ``$OPENAI_BASE_URL`` or OpenAI's). The API
key comes from ``$HARMSCOPE_API_KEY`` or ``$OPENAI_API_KEY``; it is never stored with a run.
Transient failures (connection errors, timeouts, 408/409/429/5xx) are retried with exponential
backoff and jitter, honouring ``Retry-After`` up to ``max_retry_wait_s`` (a server asking for
longer is not waited for: the case fails at once, saying so); what still fails becomes a
:class:`Response` with ``error`` set, so one bad case never stops a run.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import time
from typing import Any

import httpx

from harmscope.config import TargetOptions
from harmscope.errors import TargetError
from harmscope.records import GenerationParams, Message, Response
from harmscope.targets.base import TargetProvider

__all__ = ["API_KEY_ENVS", "DEFAULT_MAX_RETRY_WAIT_S", "OpenAITarget", "create"]

log = logging.getLogger(__name__)

API_KEY_ENVS = ("HARMSCOPE_API_KEY", "OPENAI_API_KEY")
"""Environment variables read for the bearer token, first set wins."""

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_MAX_BACKOFF_S = 30.0
DEFAULT_MAX_RETRY_WAIT_S = 120.0
"""Longest ``Retry-After`` honoured by default."""
_sleep = asyncio.sleep  # the one place the target waits (tests observe it)


class OpenAITarget:
    """A chat-completions endpoint.

    Args:
        model: Model name sent in the request.
        base_url: Endpoint root, e.g. ``http://127.0.0.1:8000/v1``.
        api_key: Bearer token; ``None`` reads :data:`API_KEY_ENVS`.
        timeout_s: Per-request timeout.
        retries: Retries of transient failures per request.
        backoff_s: First backoff; doubles per retry (with jitter), at most 30 s.
        max_retry_wait_s: Longest ``Retry-After`` waited for; a server asking for longer makes
            the request fail at once, with the reason in its error.
        max_connections: Connection pool size (match the run's concurrency).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_retry_wait_s: float = DEFAULT_MAX_RETRY_WAIT_S,
        max_connections: int = 64,
    ) -> None:
        url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise TargetError(f"base URL {url!r} must start with http:// or https://")
        self.model = model
        self.base_url = url
        self.id = f"openai/{model}"
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.max_retry_wait_s = max_retry_wait_s
        key = api_key if api_key is not None else _env_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.AsyncClient(
            base_url=url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    @property
    def cache_tag(self) -> str:
        """Part of the cache key: one endpoint's answers are never served for another's."""
        return f"url={self.base_url}"

    def _payload(self, messages: tuple[Message, ...], params: GenerationParams) -> dict[str, Any]:
        chat = [{"role": m.role, "content": m.content} for m in messages]
        if params.system_prompt is not None and messages[0].role != "system":
            chat.insert(0, {"role": "system", "content": params.system_prompt})
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": chat,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.temperature > 0:
            payload["seed"] = params.seed
        return payload

    async def generate(
        self, messages: tuple[Message, ...], params: GenerationParams, *, case_id: str = ""
    ) -> Response:
        """Send one chat completion request, retrying transient failures."""
        payload = self._payload(messages, params)
        start = time.perf_counter()
        error = ""
        for attempt in range(self.retries + 1):
            delay = min(self.backoff_s * 2**attempt * (0.5 + random.random()), _MAX_BACKOFF_S)
            try:
                r = await self._client.post("/chat/completions", json=payload)
            except httpx.TimeoutException:
                error = f"timeout after {self.timeout_s:g} s ({self.base_url})"
            except httpx.TransportError as exc:
                error = f"connection error: {exc!s} ({self.base_url})"
            else:
                if r.status_code == 200:
                    return self._parse(r, case_id, time.perf_counter() - start)
                error = f"HTTP {r.status_code}: {_error_detail(r)}"
                if r.status_code not in _RETRY_STATUS:
                    break
                asked = _retry_after(r)
                if asked is not None and asked > self.max_retry_wait_s:
                    error += (
                        f" (the server asked to retry after {asked:.0f} s, more than the "
                        f"{self.max_retry_wait_s:g} s allowed by --max-retry-wait; not retried)"
                    )
                    log.warning("%s: %s", case_id or self.id, error)
                    break
                delay = delay if asked is None else asked
            if attempt < self.retries:
                await _sleep(delay)
        return Response(
            case_id=case_id,
            target_id=self.id,
            error=error,
            latency_s=time.perf_counter() - start,
        )

    def _parse(self, r: httpx.Response, case_id: str, latency: float) -> Response:
        def bad(why: str) -> Response:
            return Response(
                case_id=case_id, target_id=self.id, error=f"bad response: {why}", latency_s=latency
            )

        try:
            body = r.json()
        except ValueError:
            return bad(f"not JSON: {r.text[:120]!r}")
        try:
            choice = body["choices"][0]
            text = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            return bad(f"no choices[0].message.content in {str(body)[:120]!r}")
        if text is None:
            text = ""  # e.g. a tool call or a content-filtered answer: an empty text, judged
        if not isinstance(text, str):
            return bad(f"content is {type(text).__name__}, not a string")
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        return Response(
            case_id=case_id,
            target_id=self.id,
            text=text,
            finish_reason=choice.get("finish_reason"),
            latency_s=latency,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def _env_key() -> str | None:
    for name in API_KEY_ENVS:
        if value := os.environ.get(name):
            return value
    return None


def _error_detail(r: httpx.Response) -> str:
    try:
        body = r.json()
        detail = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(detail, dict):
            detail = detail.get("message") or detail.get("detail") or detail
        return str(detail)[:200]
    except ValueError:
        return r.text[:200] or r.reason_phrase


def _retry_after(r: httpx.Response) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    raw = r.headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _create(model: str, options: TargetOptions) -> OpenAITarget:
    return OpenAITarget(
        model,
        base_url=options.base_url,
        timeout_s=options.timeout_s,
        retries=options.retries,
        max_retry_wait_s=options.max_retry_wait_s,
        max_connections=max(options.concurrency or _CONCURRENCY, 8),
    )


_CONCURRENCY = 16
create = TargetProvider(
    _create,
    "openai/<model> --base-url URL — any OpenAI-compatible chat endpoint",
    concurrency=_CONCURRENCY,
)
"""Factory for ``openai/<model>``."""
