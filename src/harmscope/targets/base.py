"""The Target protocol: the system under test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from harmscope.config import TargetOptions
from harmscope.errors import TargetError
from harmscope.records import GenerationParams, Message, Response

__all__ = [
    "DEFAULT_CONCURRENCY",
    "CacheKeyed",
    "Target",
    "TargetProvider",
    "cache_tag",
    "parse_target",
    "provider_of",
]


@runtime_checkable
class Target(Protocol):
    """Anything that answers a conversation.

    ``id`` is ``provider/model``. ``generate`` never raises for a per-request failure: it
    returns a :class:`Response` whose ``error`` says what went wrong, so one bad case never
    stops a run. ``aclose`` releases connections or model memory.

    A target may also be :class:`CacheKeyed`.
    """

    id: str

    async def generate(
        self, messages: tuple[Message, ...], params: GenerationParams, *, case_id: str = ""
    ) -> Response:
        """Answer ``messages`` with ``params``."""
        ...

    async def aclose(self) -> None:
        """Release resources."""
        ...


@runtime_checkable
class CacheKeyed(Protocol):
    """A target whose answers depend on more than its ``id``.

    ``cache_tag`` is whatever else tells its answers from another system's (an endpoint URL,
    a latent probe's fingerprint). The runner puts it in the response cache key, so it must
    never hold a secret such as an API key. A target that is not cache-keyed is identified
    by ``id`` alone.
    """

    @property
    def cache_tag(self) -> str:
        """Part of the response cache key, beside the target's ``id``."""
        ...


def cache_tag(target: object) -> str:
    """``target``'s cache tag, or ``""`` for a target identified by its ``id`` alone."""
    return target.cache_tag if isinstance(target, CacheKeyed) else ""


DEFAULT_CONCURRENCY = 8
"""Requests in flight for a target whose provider names no default."""


@dataclass(frozen=True)
class TargetProvider:
    """A target factory and what ``harmscope targets`` and ``scan`` need to know of it.

    Calling it builds a target: ``provider("model", options)``. A plugin may register a bare
    factory ``(model, options) -> Target`` instead; :func:`provider_of` gives it the defaults.
    """

    create: Callable[[str, TargetOptions], Target]
    """Builds the target for a model name and the options (the HTTP settings, the probe...)."""
    description: str
    """One line: the ``provider/model`` forms it takes and what they are."""
    concurrency: int = DEFAULT_CONCURRENCY
    """Requests a scan keeps in flight by default (a local model's batch size)."""

    def __call__(self, model: str, options: TargetOptions | None = None) -> Target:
        """Build the target for ``model``."""
        return self.create(model, options or TargetOptions())


def provider_of(factory: Callable[..., Target]) -> TargetProvider:
    """``factory`` as a :class:`TargetProvider` (a bare plugin factory gets the defaults)."""
    if isinstance(factory, TargetProvider):
        return factory
    return TargetProvider(factory, description="plugin")


def parse_target(spec: str) -> tuple[str, str]:
    """Split ``provider/model`` into its two parts (the model part may contain slashes).

    Raises:
        TargetError: No provider or no model part.
    """
    provider, sep, model = spec.partition("/")
    if not sep or not provider or not model:
        raise TargetError(f"target {spec!r} is not of the form provider/model (e.g. hf/default)")
    return provider, model
