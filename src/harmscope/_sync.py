"""Synchronous twins of the library's coroutines, with the same typed signature."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

__all__ = ["LoopThread", "synchronous"]

P = ParamSpec("P")
T = TypeVar("T")


def synchronous(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """``fn`` run to completion in a new event loop (not from inside a running loop)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return asyncio.run(fn(*args, **kwargs))

    run.__doc__ = f"Synchronous :func:`{fn.__name__}` (same arguments)."
    return run


class LoopThread:
    """One event loop in a daemon thread, for synchronous calls into async clients.

    ``asyncio.run`` makes a new loop per call, and an HTTP client opened in one loop cannot be
    used from the next: an object whose synchronous API calls its async one again and again
    runs every call on this one loop instead. The thread starts on the first call.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="harmscope-loop", daemon=True
                )
                self._thread.start()
                self._loop = loop
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result (from any thread but the loop's)."""
        return asyncio.run_coroutine_threadsafe(coro, self._running()).result()

    def close(self) -> None:
        """Stop the loop and its thread (a later :meth:`run` starts new ones)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
