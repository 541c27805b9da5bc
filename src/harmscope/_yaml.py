"""YAML reading for harmscope's own data files (taxonomy, card library, scenarios)."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["safe_load"]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` through libyaml's C parser where PyYAML was built with it.

    The C loader is about ten times faster and accepts the same documents; PyYAML falls back to
    the pure-Python loader where libyaml is missing.
    """
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader either way
