"""The Target protocol: the system under test."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from harmscope.errors import TargetError
from harmscope.records import GenerationParams, Message, Response

__all__ = ["CacheKeyed", "Target", "cache_tag", "parse_target"]


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


def parse_target(spec: str) -> tuple[str, str]:
    """Split ``provider/model`` into its two parts (the model part may contain slashes).

    Raises:
        TargetError: No provider or no model part.
    """
    provider, sep, model = spec.partition("/")
    if not sep or not provider or not model:
        raise TargetError(f"target {spec!r} is not of the form provider/model (e.g. hf/default)")
    return provider, model
