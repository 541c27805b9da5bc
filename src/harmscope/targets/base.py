"""The Target protocol: the system under test."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from harmscope.errors import TargetError
from harmscope.records import GenerationParams, Message, Response

__all__ = ["Target", "parse_target"]


@runtime_checkable
class Target(Protocol):
    """Anything that answers a conversation.

    ``id`` is ``provider/model``. ``generate`` never raises for a per-request failure: it
    returns a :class:`Response` whose ``error`` says what went wrong, so one bad case never
    stops a run. ``aclose`` releases connections or model memory.

    A target may also have a ``cache_tag`` string attribute: whatever, besides ``id``, tells
    its answers from another system's (an endpoint URL, a latent probe's fingerprint). The
    runner puts it in the response cache key, so it must never hold a secret such as an API
    key. A target without one is identified by ``id`` alone.
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


def parse_target(spec: str) -> tuple[str, str]:
    """Split ``provider/model`` into its two parts (the model part may contain slashes).

    Raises:
        TargetError: No provider or no model part.
    """
    provider, sep, model = spec.partition("/")
    if not sep or not provider or not model:
        raise TargetError(f"target {spec!r} is not of the form provider/model (e.g. hf/default)")
    return provider, model
