"""Exceptions raised by harmscope.

Every error a user can cause derives from :class:`HarmscopeError`, so the CLI can print a
one-line message instead of a traceback.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "HarmscopeError",
    "MissingDependencyError",
    "NotFoundError",
    "OutputError",
    "RunBusyError",
    "StoreError",
    "TargetError",
    "UnknownCategoryError",
]


class HarmscopeError(Exception):
    """Base class for every error harmscope raises on purpose."""


class NotFoundError(HarmscopeError, KeyError):
    """A named thing (plugin, suite, run, file) does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that.
        return str(self.args[0]) if self.args else ""


class UnknownCategoryError(NotFoundError):
    """A category code is not in the taxonomy or in the named crosswalk."""


class DataError(HarmscopeError, ValueError):
    """A data file (suite, labelled set, policy) is malformed."""


class TargetError(HarmscopeError):
    """A target could not be reached or returned something unusable."""


class OutputError(HarmscopeError):
    """An output file or folder (export, report, cards) cannot be written where asked."""


class StoreError(HarmscopeError):
    """The run store is unreadable, of another schema version, or lacks a run."""


class RunBusyError(StoreError):
    """Another live process is working on the run (it holds the run's lease)."""


class MissingDependencyError(HarmscopeError, ImportError):
    """An optional dependency is not installed; the message names the extra."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed: pip install 'harmscope[{extra}]'")
        self.package = package
        self.extra = extra
