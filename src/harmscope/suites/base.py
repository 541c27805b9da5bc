"""Suites: named, versioned lists of cases."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from harmscope.records import Case
from harmscope.registry import Registry

__all__ = ["Suite", "SuiteFactory", "registry"]


class Suite(BaseModel):
    """A named, versioned list of cases."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Registry name or file stem."""
    version: str
    """Bumped whenever a case changes; cases carry ``name@version`` as source."""
    description: str = ""
    """One line on what the suite measures."""
    cases: tuple[Case, ...]
    """The cases, in a stable order."""

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    def sample(self, limit: int, *, seed: int = 0) -> Suite:
        """A stratified sample of at most ``limit`` cases.

        Strata are (top-level category, expected); each stratum gets a share proportional to
        its size (largest remainders), at least one case while the budget lasts. The draw is
        deterministic given ``seed`` and the original order is kept.
        """
        if limit >= len(self.cases):
            return self
        strata: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, case in enumerate(self.cases):
            strata[(case.category.split(".")[0], case.expected)].append(i)
        quotas = _allocate(limit, {k: len(v) for k, v in strata.items()})
        rng = random.Random(seed)
        chosen: list[int] = []
        for key, idx in sorted(strata.items()):
            chosen.extend(rng.sample(idx, quotas[key]))
        picked = tuple(self.cases[i] for i in sorted(chosen))
        return self.model_copy(update={"cases": picked})


def _allocate(limit: int, sizes: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    total = sum(sizes.values())
    exact = {k: limit * n / total for k, n in sizes.items()}
    quotas = {k: min(sizes[k], int(v)) for k, v in exact.items()}
    # Give every stratum one case first, then the rest by largest remainder.
    for k in sorted(sizes, key=lambda k: -sizes[k]):
        if quotas[k] == 0 and sum(quotas.values()) < limit:
            quotas[k] = 1
    order = sorted(sizes, key=lambda k: (-(exact[k] - int(exact[k])), k))
    while sum(quotas.values()) < limit:
        progressed = False
        for k in order:
            if sum(quotas.values()) >= limit:
                break
            if quotas[k] < sizes[k]:
                quotas[k] += 1
                progressed = True
        if not progressed:
            break
    while sum(quotas.values()) > limit:  # only when more strata than the limit
        k = max(quotas, key=lambda k: (quotas[k], k))
        quotas[k] -= 1
    return quotas


SuiteFactory = Callable[..., Suite]
"""A registered suite: called with keyword ``data_dir`` (may be ignored) to build the suite."""

registry: Registry[SuiteFactory] = Registry("suite")
