"""The guard: normalise, run every detector, combine, decide.

``Guard.check(texts)`` is the async core; ``Guard.check_sync`` wraps it for scripts. Each text
is scored as given and, when normalisation changed it, also in its normalised form and each
decoded (base64, rot13) segment on its own; the highest score per key is kept, so
normalisation can only add flags, never hide one. Texts longer than
``window_chars`` are also scored in short sentence-aligned pieces (the embedding model reads
only about 256 tokens, and averages what it reads), so harmful text cannot hide behind a long
harmless preamble.

:class:`~harmscope.batching.MicroBatcher` (re-exported here) gathers concurrent single
requests into one call (one embedding forward pass) and is what the HTTP service uses.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harmscope.batching import MicroBatcher, QueueFull, QueueTimeout
from harmscope.errors import HarmscopeError
from harmscope.guard.detectors import Detector, ascore, thresholds_of
from harmscope.guard.normalize import DEFAULT_MAX_CHARS, normalize
from harmscope.guard.policy import Decision, Policy, combine, decide, load_policy
from harmscope.guard.registry import DetectorOptions, build_detector

__all__ = ["Guard", "MicroBatcher", "QueueFull", "QueueTimeout", "load_guard"]

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_PIECE_CHARS = 240
"""Long texts are also scored in sentence-aligned pieces of about this many characters."""


class Guard:
    """Detectors plus a policy.

    Args:
        detectors: One or more detectors (scores combined by the policy's ensemble rule).
        policy: The policy; thresholds it leaves unset come from detectors' validated
            defaults (their ``thresholds`` attribute, first detector first).
        normalize_text: Apply :func:`~harmscope.guard.normalize.normalize` before scoring.
        max_chars: Longest text scored.
        window_chars: Texts longer than this are also scored piece by piece (``0``: never).
    """

    def __init__(
        self,
        detectors: Sequence[Detector],
        policy: Policy | None = None,
        *,
        normalize_text: bool = True,
        max_chars: int = DEFAULT_MAX_CHARS,
        window_chars: int = 1000,
    ) -> None:
        if not detectors:
            raise HarmscopeError("a guard needs at least one detector")
        self.detectors = list(detectors)
        defaults: dict[str, float] = {}
        for det in reversed(self.detectors):
            defaults.update(thresholds_of(det))
        self.policy = (policy or Policy()).with_defaults(defaults)
        self.normalize_text = normalize_text
        self.max_chars = max_chars
        self.window_chars = window_chars
        self.name = "harmscope-guard/" + "+".join(d.name for d in self.detectors)
        self._workers: list[ThreadPoolExecutor] = []
        self._workers_lock = threading.Lock()

    async def check(self, texts: Sequence[str]) -> list[Decision]:
        """Decide for each text (one batched call per detector)."""
        if not texts:
            return []
        variants: list[str] = []
        owner: list[int] = []
        notes: list[tuple[str, ...]] = []
        for i, text in enumerate(texts):
            pieces, note = self._variants(text)
            variants.extend(pieces)
            owner.extend([i] * len(pieces))
            notes.append(note)
        results = await asyncio.gather(
            *(ascore(d, variants, executor=self._worker(i)) for i, d in enumerate(self.detectors))
        )
        return [self._decide_one(i, text, owner, results, notes[i]) for i, text in enumerate(texts)]

    def _variants(self, text: str) -> tuple[list[str], tuple[str, ...]]:
        """The pieces scored for ``text`` and the notes on how it was normalised."""
        norm = normalize(text, max_chars=self.max_chars) if self.normalize_text else None
        forms = [text[: self.max_chars]]
        for form in (norm.text, *norm.decoded) if norm is not None else ():
            if form.strip() and form not in forms:
                forms.append(form)
        pieces = [piece for form in forms for piece in self._windows(form)]
        return pieces, tuple(f"normalized:{s}" for s in norm.steps) if norm else ()

    def _decide_one(
        self,
        index: int,
        text: str,
        owner: list[int],
        results: Sequence[list[dict[str, float]]],
        notes: tuple[str, ...],
    ) -> Decision:
        """The decision for text ``index``: the highest score per key over its pieces."""
        per_detector: dict[str, dict[str, float]] = {}
        gaps: list[str] = []
        for det, scores in zip(self.detectors, results, strict=True):
            merged: dict[str, float] = {}
            for j, owner_i in enumerate(owner):
                if owner_i == index:
                    for key, value in scores[j].items():
                        merged[key] = max(value, merged.get(key, 0.0))
            if merged:
                per_detector[det.name] = merged
            else:
                gaps.append(f"no_score:{det.name}")
        decision = decide(text, combine(per_detector, self.policy), self.policy)
        extra = tuple(gaps) + notes
        if not extra:
            return decision
        return Decision(
            decision.flagged, decision.categories, decision.scores, decision.reasons + extra
        )

    def _worker(self, index: int) -> ThreadPoolExecutor:
        # One long-lived thread per detector runs its synchronous forward passes: calls from
        # ever-changing pool threads each grow their own malloc arena and OpenMP team.
        with self._workers_lock:
            while len(self._workers) <= index:
                self._workers.append(
                    ThreadPoolExecutor(1, thread_name_prefix=f"harmscope-guard-{index}")
                )
            return self._workers[index]

    def _windows(self, text: str) -> list[str]:
        if self.window_chars <= 0 or len(text) <= self.window_chars:
            return [text]
        pieces: list[str] = [text]
        current = ""
        for sentence in _SENTENCE.split(text):
            if current and len(current) + len(sentence) > _PIECE_CHARS:
                pieces.append(current)
                current = ""
            current = f"{current} {sentence}" if current else sentence
        if current:
            pieces.append(current)
        return pieces

    def check_sync(self, texts: Sequence[str]) -> list[Decision]:
        """:meth:`check` from synchronous code."""
        return asyncio.run(self.check(texts))


def load_guard(
    spec: str = "embedding",
    *,
    policy: str | Path | Policy | None = None,
    weights: str | Path | None = None,
    base_url: str | None = None,
    latent_probe: str | Path | None = None,
) -> Guard:
    """Build a guard from a spec: detector names joined by ``+``.

    ``embedding`` (shipped heads, or ``weights``), ``llm:<provider/model>`` (an LLM classifier
    through that target, ``base_url`` for HTTP targets), ``latent[:<model>]`` (the Latent
    Guard on a local model, default ``default``; its probe is ``latent_probe`` or the shipped
    one, see :func:`~harmscope.guard.detectors.latent_detector`), or any name in the detector
    registry (:mod:`harmscope.guard.registry`, plugins included).

    Raises:
        NotFoundError: Unknown detector name (the message suggests close ones).
        HarmscopeError: A detector refused its argument.
        DataError: Bad policy file.
    """
    options = DetectorOptions(weights=weights, base_url=base_url, latent_probe=latent_probe)
    detectors = [build_detector(part, options) for part in spec.split("+")]
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    return Guard(detectors, pol)
