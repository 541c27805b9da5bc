"""The guard detector registry: detectors chosen by name in a guard spec.

A spec names detectors joined by ``+``, each ``name`` or ``name:arg``. A name is looked up in
:data:`registry` (built-ins below, registered lazily so nothing heavy is imported; plugins
through the entry-point group ``harmscope.detectors`` or :meth:`Registry.add` at runtime). A
registered object is a :data:`DetectorFactory`: ``factory(arg, options) -> Detector``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harmscope.errors import HarmscopeError
from harmscope.registry import Registry

if TYPE_CHECKING:
    from harmscope.guard.detectors import Detector

__all__ = ["DetectorFactory", "DetectorOptions", "build_detector", "registry"]


@dataclass(frozen=True)
class DetectorOptions:
    """Settings a detector factory may use (each factory reads those it needs).

    Args:
        weights: Embedding-head weights (``embedding`` without an argument).
        base_url: Base URL for an HTTP target (``llm:openai/...``).
        latent_probe: Probe folder for ``latent`` (default: the one shipped for the model).
    """

    weights: str | Path | None = None
    base_url: str | None = None
    latent_probe: str | Path | None = None


DetectorFactory = Callable[[str, DetectorOptions], "Detector"]
"""``factory(arg, options) -> Detector``; ``arg`` is what follows ``name:`` (maybe empty)."""

registry: Registry[DetectorFactory] = Registry("detector")
registry.add_lazy("embedding", "harmscope.guard.registry:embedding")
registry.add_lazy("llm", "harmscope.guard.registry:llm")
registry.add_lazy("latent", "harmscope.guard.registry:latent")


def build_detector(part: str, options: DetectorOptions) -> Detector:
    """The detector for one spec part, ``name`` or ``name:arg``.

    Raises:
        NotFoundError: Unknown detector name (with a did-you-mean hint).
        HarmscopeError: The factory refused its argument.
    """
    name, _, arg = part.strip().partition(":")
    return registry.get(name)(arg, options)


def embedding(arg: str, options: DetectorOptions) -> Detector:
    """``embedding[:<weights>]``: the shipped heads, or those at ``arg`` / ``options.weights``."""
    from harmscope.guard.detectors import EmbeddingDetector

    return EmbeddingDetector(arg or options.weights)


def llm(arg: str, options: DetectorOptions) -> Detector:
    """``llm:<provider/model>``: an LLM classifier through that target.

    Raises:
        HarmscopeError: No target given.
    """
    if not arg:
        raise HarmscopeError("the llm detector needs a target: llm:<provider/model>")
    from harmscope.guard.detectors import LLMDetector
    from harmscope.targets import create_target

    return LLMDetector(create_target(arg, base_url=options.base_url))


def latent(arg: str, options: DetectorOptions) -> Detector:
    """``latent[:<model>]``: the Latent Guard on a local model (default ``default``)."""
    from harmscope.guard.detectors import latent_detector

    return latent_detector(arg or "default", probe=options.latent_probe)
