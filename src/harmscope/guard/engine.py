"""The guard: normalise, run every detector, combine, decide.

``Guard.check(texts)`` is the async core; ``Guard.check_sync`` wraps it for scripts. Each text
is scored as given and, when normalisation changed it, also in its normalised form and each
decoded (base64, rot13) segment on its own; the highest score per key is kept, so
normalisation can only add flags, never hide one. Texts longer than
``window_chars`` are also scored in short sentence-aligned pieces (the embedding model reads
only about 256 tokens, and averages what it reads), so harmful text cannot hide behind a long
harmless preamble.

:class:`MicroBatcher` gathers concurrent single requests into one call (one embedding forward
pass) and is what the HTTP service uses.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from harmscope.errors import HarmscopeError
from harmscope.guard.detectors import Detector, ascore
from harmscope.guard.normalize import DEFAULT_MAX_CHARS, normalize
from harmscope.guard.policy import Decision, Policy, combine, decide, load_policy

__all__ = ["Guard", "MicroBatcher", "QueueFull", "QueueTimeout", "load_guard"]

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_PIECE_CHARS = 240
"""Long texts are also scored in sentence-aligned pieces of about this many characters."""

T = TypeVar("T")
R = TypeVar("R")


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
            defaults.update(getattr(det, "thresholds", {}) or {})
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
            norm = normalize(text, max_chars=self.max_chars) if self.normalize_text else None
            raw = text[: self.max_chars]
            forms = [raw]
            for form in (norm.text, *norm.decoded) if norm is not None else ():
                if form.strip() and form not in forms:
                    forms.append(form)
            for form in forms:
                for piece in self._windows(form):
                    variants.append(piece)
                    owner.append(i)
            notes.append(tuple(f"normalized:{s}" for s in norm.steps) if norm else ())
        results = await asyncio.gather(
            *(ascore(d, variants, executor=self._worker(i)) for i, d in enumerate(self.detectors))
        )
        decisions = []
        for i, text in enumerate(texts):
            per_detector: dict[str, dict[str, float]] = {}
            gaps: list[str] = []
            for det, scores in zip(self.detectors, results, strict=True):
                merged: dict[str, float] = {}
                for j, owner_i in enumerate(owner):
                    if owner_i == i:
                        for key, value in scores[j].items():
                            merged[key] = max(value, merged.get(key, 0.0))
                if merged:
                    per_detector[det.name] = merged
                else:
                    gaps.append(f"no_score:{det.name}")
            decision = decide(text, combine(per_detector, self.policy), self.policy)
            extra = tuple(gaps) + notes[i]
            if extra:
                decision = Decision(
                    decision.flagged,
                    decision.categories,
                    decision.scores,
                    decision.reasons + extra,
                )
            decisions.append(decision)
        return decisions

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


class QueueFull(HarmscopeError):
    """The batcher's queue is full: nothing was queued; retry later."""


class QueueTimeout(HarmscopeError):
    """An item waited in the queue past its deadline and was dropped before being computed."""


@dataclass
class _Entry(Generic[T, R]):
    item: T
    future: asyncio.Future[R]
    queued_at: float


class MicroBatcher(Generic[T, R]):
    """Collect items submitted concurrently and process them in one call, under load bounds.

    A batch is sent when a call slot is free and either ``max_batch`` items wait or
    ``max_wait_s`` has passed since the oldest waiting item was queued. At most
    ``concurrency`` calls run at once; items arriving meanwhile wait and form the next batch,
    so batches grow with load instead of calls piling up.

    Load bounds: a submission that would make more than ``max_queue`` items wait raises
    :class:`QueueFull` at once (a submission into an empty queue is always taken); an item
    still waiting ``queue_timeout_s`` after it was queued is dropped with
    :class:`QueueTimeout`; when the submitting task is cancelled (its client went away), its
    waiting items are removed. Dropped items are never computed.

    Failures are isolated: when a call raises, its batch is split in halves and each half
    retried, down to single items, so only the callers of the failing items see the error.

    Args:
        fn: Async function from a list of items to a list of results (same order).
        max_batch: Most items per call.
        max_wait_s: Longest wait for companions.
        max_queue: Most items waiting (``None``: unbounded).
        queue_timeout_s: Longest wait in the queue before an item is dropped (``None``: none).
        concurrency: Calls in flight at once.
    """

    def __init__(
        self,
        fn: Callable[[list[T]], Awaitable[list[R]]],
        *,
        max_batch: int = 64,
        max_wait_s: float = 0.003,
        max_queue: int | None = None,
        queue_timeout_s: float | None = None,
        concurrency: int = 1,
    ) -> None:
        if max_batch < 1 or concurrency < 1 or (max_queue is not None and max_queue < 1):
            raise HarmscopeError("max_batch, max_queue and concurrency must be at least 1")
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self.concurrency = concurrency
        self._pending: deque[_Entry[T, R]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._running = 0
        self.batches = 0
        """Calls made so far (for tests and metrics)."""
        self.dropped: Counter[str] = Counter()
        """Items never computed, by reason: ``queue_full``, ``queue_timeout``, ``cancelled``."""

    @property
    def depth(self) -> int:
        """Items waiting (not yet in a call)."""
        return len(self._pending)

    def full(self, n: int = 1) -> bool:
        """Whether a submission of ``n`` items would be refused now."""
        if self.max_queue is None or not self._pending:
            return False
        return len(self._pending) + n > self.max_queue

    async def submit_many(self, items: Sequence[T]) -> list[R]:
        """Submit several items; they may share a batch with other callers.

        Raises:
            QueueFull: The queue has no room for ``items`` (nothing was queued).
            QueueTimeout: An item waited longer than ``queue_timeout_s``.
        """
        if not items:
            return []
        if self.full(len(items)):
            self.dropped["queue_full"] += len(items)
            raise QueueFull(f"guard queue full ({len(self._pending)} waiting); retry later")
        loop = asyncio.get_running_loop()
        now = loop.time()
        futures: list[asyncio.Future[R]] = []
        for item in items:
            fut: asyncio.Future[R] = loop.create_future()
            self._pending.append(_Entry(item, fut, now))
            futures.append(fut)
        self._kick()
        deadline = None
        if self.queue_timeout_s is not None:  # drop at the deadline even while a call runs
            deadline = loop.call_later(self.queue_timeout_s, self._expire_at_deadline)
        try:
            return list(await asyncio.gather(*futures))
        except BaseException:
            for fut in futures:  # a caller that stops waiting takes its items out of the queue
                fut.cancel()
            self._discard()
            raise
        finally:
            if deadline is not None:
                deadline.cancel()

    def _expire_at_deadline(self) -> None:
        self._expire(asyncio.get_running_loop().time() + 1e-6)

    def _discard(self) -> None:
        kept = deque(e for e in self._pending if not e.future.done())
        self.dropped["cancelled"] += len(self._pending) - len(kept)
        self._pending = kept

    def _expire(self, now: float) -> None:
        limit = self.queue_timeout_s
        while self._pending and (
            self._pending[0].future.done()
            or (limit is not None and now - self._pending[0].queued_at > limit)
        ):
            entry = self._pending.popleft()
            if entry.future.done():
                self.dropped["cancelled"] += 1
            else:
                self.dropped["queue_timeout"] += 1
                entry.future.set_exception(
                    QueueTimeout(f"waited more than {limit:g} s in the guard queue; retry later")
                )

    def _kick(self) -> None:
        """Start calls while a slot is free and a batch is ready; else arm the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = asyncio.get_running_loop()
        while self._running < self.concurrency:
            now = loop.time()
            self._expire(now)
            if not self._pending:
                return
            wait = self._pending[0].queued_at + self.max_wait_s - now
            if len(self._pending) < self.max_batch and wait > 0:
                self._timer = loop.call_later(wait, self._kick)
                return
            batch: list[_Entry[T, R]] = []
            while self._pending and len(batch) < self.max_batch:
                entry = self._pending.popleft()
                if not entry.future.done():
                    batch.append(entry)
            if batch:
                self._running += 1
                asyncio.ensure_future(self._run(batch))

    async def _run(self, batch: list[_Entry[T, R]]) -> None:
        try:
            await self._call(batch)
        finally:
            self._running -= 1
            self._kick()

    async def _call(self, batch: list[_Entry[T, R]]) -> None:
        live = [e for e in batch if not e.future.done()]
        if not live:
            return
        self.batches += 1
        try:
            results = await self.fn([e.item for e in live])
            if len(results) != len(live):
                raise HarmscopeError("batched function returned the wrong number of results")
        except Exception as exc:
            if len(live) == 1:
                if not live[0].future.done():
                    live[0].future.set_exception(exc)
                return
            half = len(live) // 2  # bisect: only the failing items' callers see the error
            await self._call(live[:half])
            await self._call(live[half:])
            return
        for entry, result in zip(live, results, strict=True):
            if not entry.future.done():
                entry.future.set_result(result)


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
    one, see :func:`~harmscope.guard.detectors.latent_detector`).

    Raises:
        HarmscopeError: Unknown detector name.
        DataError: Bad policy file.
    """
    detectors: list[Detector] = []
    for part in spec.split("+"):
        name, _, arg = part.strip().partition(":")
        if name == "embedding":
            from harmscope.guard.detectors import EmbeddingDetector

            detectors.append(EmbeddingDetector(arg or weights))
        elif name == "llm" and arg:
            from harmscope.guard.detectors import LLMDetector
            from harmscope.targets import create_target

            detectors.append(LLMDetector(create_target(arg, base_url=base_url)))
        elif name == "latent":
            from harmscope.guard.detectors import latent_detector

            detectors.append(latent_detector(arg or "default", probe=latent_probe))
        else:
            raise HarmscopeError(
                f"unknown guard detector {part!r}; use embedding, llm:<provider/model>, "
                "latent[:<model>] or several joined by +"
            )
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    return Guard(detectors, pol)
