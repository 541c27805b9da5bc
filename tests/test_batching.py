"""The shared micro-batcher: names its queue in messages; unbounded by default."""

from __future__ import annotations

import asyncio

import pytest

from harmscope.batching import MicroBatcher, QueueFull, QueueTimeout
from harmscope.guard.engine import MicroBatcher as GuardBatcher


async def _double(items: list[int]) -> list[int]:
    return [2 * i for i in items]


def test_the_guard_reexports_the_shared_batcher() -> None:
    assert GuardBatcher is MicroBatcher


def test_unbounded_by_default_and_labelled_messages_when_bounded() -> None:
    async def run() -> None:
        free = MicroBatcher(_double, max_batch=4, max_wait_s=0.01)
        assert await asyncio.gather(*(free.submit_many([i]) for i in range(20))) == [
            [2 * i] for i in range(20)
        ]
        assert not free.dropped and free.batches == 5

        async def slow(items: list[int]) -> list[int]:
            await asyncio.sleep(0.2)
            return items

        bounded = MicroBatcher(slow, max_batch=1, max_queue=1, queue_timeout_s=0.05, label="hf")
        first = asyncio.ensure_future(bounded.submit_many([1]))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(bounded.submit_many([2]))
        await asyncio.sleep(0)
        with pytest.raises(QueueFull, match="hf queue full"):
            await bounded.submit_many([3])
        with pytest.raises(QueueTimeout, match="in the hf queue"):
            await second
        assert await first == [1]

    asyncio.run(run())
