"""One generic registry for every extension point.

Each extension package owns a :class:`Registry` instance. Implementations register themselves
with a decorator in their own module; heavy ones are registered lazily as ``"module:attr"``
strings so that importing harmscope never imports torch. Third-party plugins are found through
the entry-point group named after the registry (``harmscope.targets``, ...) on the first lookup
that misses.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from harmscope.errors import HarmscopeError, NotFoundError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A name → object map with lazy imports and entry-point plugins.

    Args:
        kind: What is registered ("target", "judge", ...); used in messages and as the
            entry-point group ``harmscope.<kind>s``.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        self._entry_points_loaded = False
        self._plugins: set[str] = set()

    def register(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers its argument under ``name``."""

        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T) -> None:
        """Register ``obj`` under ``name``, replacing a lazy entry of the same name."""
        self._items[name] = obj
        self._lazy.pop(name, None)

    def add_lazy(self, name: str, path: str) -> None:
        """Register ``"package.module:attr"`` to be imported on first :meth:`get`."""
        if name not in self._items:
            self._lazy[name] = path

    def get(self, name: str) -> T:
        """Return the object registered as ``name``.

        Raises:
            NotFoundError: No such name; the message suggests close matches.
            HarmscopeError: A plugin found through an entry point failed to import.
        """
        if name in self._items:
            return self._items[name]
        if name in self._lazy:
            path = self._lazy[name]
            module_name, _, attr = path.partition(":")
            try:
                module = importlib.import_module(module_name)
                obj = getattr(module, attr)
            except HarmscopeError:
                raise
            except (ImportError, AttributeError) as exc:
                if name not in self._plugins:
                    raise
                raise HarmscopeError(
                    f"{self.kind} plugin {name!r} ({path}) failed to load: {exc}"
                ) from exc
            if name not in self._items:  # the module may register itself on import
                self._items[name] = obj
            self._lazy.pop(name, None)
            return self._items[name]
        if not self._entry_points_loaded:
            self._load_entry_points()
            return self.get(name)
        close = difflib.get_close_matches(name, self.names(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise NotFoundError(
            f"unknown {self.kind} {name!r}{hint} (known: {', '.join(self.names())})"
        )

    def names(self) -> list[str]:
        """All registered names, entry-point plugins included, sorted."""
        if not self._entry_points_loaded:
            self._load_entry_points()
        return sorted({*self._items, *self._lazy})

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._lazy

    def _load_entry_points(self) -> None:
        self._entry_points_loaded = True
        for ep in entry_points(group=f"harmscope.{self.kind}s"):
            if ep.name not in self._items and ep.name not in self._lazy:  # built-ins win
                self._lazy[ep.name] = ep.value
                self._plugins.add(ep.name)
