"""Targets: the systems under test, chosen by ``provider/model`` strings.

* ``hf/<alias|path|hub id>`` — a local transformers model (``hf/default`` is the embedded
  SmolLM2-135M-Instruct), GGUF included;
* ``openai/<model>`` — any OpenAI-compatible chat endpoint (``--base-url``);
* ``echo/<repeat|refuse|comply>`` — a deterministic fake for plumbing.
"""

from __future__ import annotations

from collections.abc import Callable

from harmscope.config import TargetOptions
from harmscope.registry import Registry
from harmscope.targets.base import Target, TargetProvider, parse_target, provider_of

__all__ = [
    "Target",
    "TargetFactory",
    "TargetOptions",
    "TargetProvider",
    "create_target",
    "default_concurrency",
    "parse_target",
    "registry",
]

TargetFactory = Callable[..., Target]
"""A :class:`TargetProvider`, or a bare ``factory(model, options) -> Target``."""

registry: Registry[TargetFactory] = Registry("target")
registry.add_lazy("echo", "harmscope.targets.echo:create")
registry.add_lazy("hf", "harmscope.targets.hf:create")
registry.add_lazy("openai", "harmscope.targets.openai:create")


def create_target(
    spec: str, options: TargetOptions | None = None, *, base_url: str | None = None
) -> Target:
    """Build the target named by ``provider/model`` (``base_url`` overrides the options').

    Raises:
        NotFoundError: Unknown provider.
        TargetError: The target could not be built (model missing, bad URL...).
    """
    provider, model = parse_target(spec)
    options = options or TargetOptions()
    if base_url is not None:
        options = options.model_copy(update={"base_url": base_url})
    return provider_of(registry.get(provider))(model, options)


def default_concurrency(spec: str) -> int:
    """Requests a scan of ``provider/model`` keeps in flight unless told otherwise.

    Raises:
        NotFoundError: Unknown provider.
    """
    return provider_of(registry.get(parse_target(spec)[0])).concurrency
