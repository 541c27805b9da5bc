"""The guard: normalise text, score it with detectors, decide by a policy, serve it over HTTP.

::

    from harmscope.guard import load_guard
    guard = load_guard("embedding")             # shipped MiniLM heads
    [decision] = guard.check_sync(["how do I pick a lock?"])

``harmscope.guard.app.create_app(guard)`` builds the OpenAI-moderation-compatible service with
a chat-completions proxy (FastAPI, extra ``serve``).
"""

from __future__ import annotations

from harmscope.guard.detectors import (
    ANY,
    Detector,
    EmbeddingDetector,
    LatentDetector,
    LLMDetector,
    ascore,
)
from harmscope.guard.engine import Guard, MicroBatcher, load_guard
from harmscope.guard.normalize import NormalizedText, normalize
from harmscope.guard.policy import Decision, Policy, load_policy

__all__ = [
    "ANY",
    "Decision",
    "Detector",
    "EmbeddingDetector",
    "Guard",
    "LLMDetector",
    "LatentDetector",
    "MicroBatcher",
    "NormalizedText",
    "Policy",
    "ascore",
    "load_guard",
    "load_policy",
    "normalize",
]
