"""Suites of cases: the authored ``core`` suite, public sets by path, and JSONL files.

``load_suite(spec)`` takes a registered name (``core``, ``xstest``, ...) or a path to a JSONL
file (see :mod:`harmscope.suites.files`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from harmscope.errors import NotFoundError
from harmscope.suites.base import Suite, SuiteFactory, registry
from harmscope.suites.files import load_suite_file, resolve_category

__all__ = [
    "CORE_VERSION",
    "Suite",
    "SuiteFactory",
    "load_core",
    "load_suite",
    "load_suite_file",
    "registry",
    "resolve_category",
]

CORE_VERSION = "1.0"
"""Version of the authored core suite; bump on any change to its cases."""


@registry.register("core")
def load_core(**_: object) -> Suite:
    """The authored core suite: unsafe requests and look-alike safe requests per category."""
    with resources.as_file(resources.files(__package__).joinpath("data/core.jsonl")) as path:
        suite = load_suite_file(path, name="core", version=CORE_VERSION)
    return suite.model_copy(
        update={
            "description": "harmscope's authored unsafe requests and look-alike safe requests, "
            "per hazard category"
        }
    )


def load_suite(spec: str, *, data_dir: str | Path | None = None) -> Suite:
    """Load a registered suite by name, or a suite file by path.

    Raises:
        NotFoundError: Neither a registered suite nor an existing file.
        DataError: The file is malformed.
    """
    if spec in registry:
        return registry.get(spec)(data_dir=data_dir)
    if spec.startswith("hf:"):
        return hub.load_hub_suite(spec, data_dir=data_dir)
    path = Path(spec)
    if path.suffix in {".jsonl", ".json"} or path.exists():
        return load_suite_file(path)
    try:
        return registry.get(spec)(data_dir=data_dir)
    except NotFoundError as exc:
        raise NotFoundError(f"{exc}; nor is {spec!r} a suite file") from None


from harmscope.suites import hub, multiturn, public  # noqa: E402,F401  (registers suites)
