"""A micro-batcher: gather items submitted concurrently into one call, under optional bounds.

:class:`MicroBatcher` is shared by the guard service (bounded queue, load shedding) and local
targets that batch concurrent generations (unbounded: a scan never drops requests). It depends
on nothing but the standard library and :mod:`harmscope.errors`.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from harmscope.errors import HarmscopeError

__all__ = ["MicroBatcher", "QueueFull", "QueueTimeout"]

T = TypeVar("T")
R = TypeVar("R")


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
        label: Names the queue in error messages (``"guard"``: "guard queue full").
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
        label: str = "guard",
    ) -> None:
        if max_batch < 1 or concurrency < 1 or (max_queue is not None and max_queue < 1):
            raise HarmscopeError("max_batch, max_queue and concurrency must be at least 1")
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self.concurrency = concurrency
        self.label = label
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
            raise QueueFull(f"{self.label} queue full ({len(self._pending)} waiting); retry later")
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
                message = f"waited more than {limit:g} s in the {self.label} queue; retry later"
                entry.future.set_exception(QueueTimeout(message))

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
