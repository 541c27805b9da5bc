"""Targets: the systems under test, chosen by ``provider/model`` strings.

* ``hf/<alias|path|hub id>`` — a local transformers model (``hf/default`` is the embedded
  SmolLM2-135M-Instruct), GGUF included;
* ``openai/<model>`` — any OpenAI-compatible chat endpoint (``--base-url``);
* ``echo/<repeat|refuse|comply>`` — a deterministic fake for plumbing.
"""

from __future__ import annotations

from collections.abc import Callable

from harmscope.config import RunConfig
from harmscope.registry import Registry
from harmscope.targets.base import Target, parse_target

__all__ = ["Target", "TargetFactory", "create_target", "parse_target", "registry"]

TargetFactory = Callable[..., Target]
"""``factory(model, *, base_url=None, config=None) -> Target``."""

registry: Registry[TargetFactory] = Registry("target")
registry.add_lazy("echo", "harmscope.targets.echo:create")
registry.add_lazy("hf", "harmscope.targets.hf:create")
registry.add_lazy("openai", "harmscope.targets.openai:create")


def create_target(
    spec: str, *, base_url: str | None = None, config: RunConfig | None = None
) -> Target:
    """Build the target named by ``provider/model``.

    Raises:
        NotFoundError: Unknown provider.
        TargetError: The target could not be built (model missing, bad URL...).
    """
    provider, model = parse_target(spec)
    return registry.get(provider)(model, base_url=base_url, config=config)
