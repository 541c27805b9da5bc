"""Attacks that adapt to the target: adaptive transform search under a budget.

``adaptive`` searches one case; ``run`` attacks many (resume, JSONL rows, the summary).
"""

from __future__ import annotations

from harmscope.attacks import adaptive, run
from harmscope.attacks.adaptive import *  # noqa: F403 - the package exports both modules' names
from harmscope.attacks.run import *  # noqa: F403

__all__ = [*adaptive.__all__, *run.__all__]
