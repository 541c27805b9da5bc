"""Adaptive search: for a refused case, try transforms until the target complies.

The search sends the plain case first. If the judge reads a refusal, it tries single
transforms and then two-step compositions, most promising first: a transform's promise is its
smoothed success rate so far (``SuccessStats``, shared across cases, so what worked on earlier
cases is tried first on later ones), and an untried composition scores the product of its
parts' rates. It stops at the first full compliance, when every candidate is tried, or when
the budget cannot pay for the next request. Every attempt is recorded in the result's path.

This is a black-box, query-efficient variant of the transfer-and-compose strategies in
Wei et al. 2023 ("Jailbroken", combination attacks) and Hughes et al. 2024 ("Best-of-N
Jailbreaking"), restricted to harmscope's deterministic transforms.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypedDict, Unpack

from harmscope.judges.base import Judge
from harmscope.records import Case, GenerationParams, Verdict
from harmscope.runner.budget import Budget, Estimate, TokenCounter, estimate, prompt_tokens
from harmscope.targets.base import Target
from harmscope.transforms.base import Transform, compose, run_transform

__all__ = [
    "Attempt",
    "SearchOptions",
    "SearchResult",
    "StopReason",
    "SuccessStats",
    "adaptive_search",
    "full_compliance",
    "search_cases",
    "search_plan",
    "stats_from_paths",
]

log = logging.getLogger(__name__)

StopReason = Literal["plain_compliance", "success", "exhausted", "budget"]
"""Why a search ended: the plain case was answered, a transform succeeded, every candidate
was tried, or the budget ran out."""


def full_compliance(verdict: Verdict) -> bool:
    """The default success test: the judge read a full compliance."""
    return verdict.refusal == "full_compliance"


class SuccessStats:
    """Per-transform attempt and success counts, with a Beta(1, 1)-smoothed rate."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}
        self.successes: dict[str, int] = {}

    def update(self, transform_id: str, success: bool) -> None:
        """Count one attempt of ``transform_id`` (a chain id such as ``a+b``)."""
        self.attempts[transform_id] = self.attempts.get(transform_id, 0) + 1
        self.successes[transform_id] = self.successes.get(transform_id, 0) + int(success)

    def rate(self, transform_id: str) -> float:
        """``(successes + 1) / (attempts + 2)``: 0.5 for a transform never tried."""
        n = self.attempts.get(transform_id, 0)
        return (self.successes.get(transform_id, 0) + 1) / (n + 2)

    def score(self, chain: Sequence[Transform]) -> float:
        """Promise of a chain: its own rate if tried, else the product of its parts' rates."""
        chain_id = "+".join(t.id for t in chain)
        if chain_id in self.attempts or len(chain) == 1:
            return self.rate(chain_id)
        product = 1.0
        for part in chain:
            product *= self.rate(part.id)
        return product

    def ranking(self) -> list[tuple[str, float, int]]:
        """``(transform id, rate, attempts)`` for every tried transform, best first."""
        rows = [(tid, self.rate(tid), n) for tid, n in self.attempts.items()]
        return sorted(rows, key=lambda r: (-r[1], r[0]))


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request of a search."""

    transform: str
    """The transform chain id; empty for the plain case."""
    case: Case
    """The case sent."""
    response: str | None
    """The target's text (``None`` on a target error)."""
    error: str | None
    """The target error, if any."""
    verdict: Verdict
    """The judge's reading."""
    success: bool
    """Whether the verdict counts as success."""
    tokens: int
    """Tokens charged to the budget for this request."""


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The outcome of a search on one case."""

    case_id: str
    """The (untransformed) case searched."""
    stop_reason: StopReason
    """Why the search ended."""
    path: tuple[Attempt, ...] = field(default=())
    """Every attempt, in order."""

    @property
    def success(self) -> bool:
        """Whether a transformed case was fully complied with."""
        return self.stop_reason == "success"

    @property
    def winner(self) -> str | None:
        """The chain that succeeded (``""`` for the plain case), if any."""
        last = self.path[-1] if self.path else None
        return last.transform if last is not None and last.success else None

    @property
    def requests(self) -> int:
        """Requests made."""
        return len(self.path)

    @property
    def tokens(self) -> int:
        """Tokens charged."""
        return sum(a.tokens for a in self.path)


@dataclass(slots=True)
class _Search:
    target: Target
    judge: Judge
    budget: Budget
    params: GenerationParams
    stats: SuccessStats
    is_success: Callable[[Verdict], bool]
    tokenizer: TokenCounter | None
    path: list[Attempt] = field(default_factory=list)

    async def attempt(self, chain_id: str, case: Case) -> Attempt | None:
        cost = prompt_tokens(case.messages, self.params, self.tokenizer)
        cost += self.params.max_new_tokens
        if not self.budget.try_spend(requests=1, tokens=cost):
            return None
        response = await self.target.generate(case.messages, self.params, case_id=case.id)
        if response.completion_tokens is not None:
            unused = max(0, self.params.max_new_tokens - response.completion_tokens)
            self.budget.refund(tokens=unused)
            cost -= unused
        verdict = await self.judge.judge(case, response)
        success = response.ok and verdict.scored and self.is_success(verdict)
        if chain_id:
            self.stats.update(chain_id, success)
        attempt = Attempt(chain_id, case, response.text, response.error, verdict, success, cost)
        self.path.append(attempt)
        return attempt


def _candidates(transforms: Sequence[Transform], max_depth: int) -> list[tuple[Transform, ...]]:
    singles: list[tuple[Transform, ...]] = [(t,) for t in transforms]
    if max_depth < 2:
        return singles
    pairs = [(a, b) for a in transforms for b in transforms if a.id != b.id]
    return [*singles, *pairs]


def search_plan(
    cases: Iterable[Case],
    transforms: Sequence[Transform],
    *,
    max_depth: int = 2,
    params: GenerationParams | None = None,
    tokenizer: TokenCounter | None = None,
) -> Estimate:
    """The most a search over ``cases`` can cost: every case refused under every candidate.

    Each case costs its plain request plus one request per case each candidate chain
    produces; tokens are counted as :func:`~harmscope.runner.budget.estimate` counts them.
    A search usually stops well before this, at the first success or the budget.
    """
    chains = [compose(*c) for c in _candidates(transforms, max_depth)]
    sent: list[Case] = []
    for case in cases:
        sent.append(case)
        for chain in chains:
            sent.extend(run_transform(chain, case))
    return estimate(sent, params, tokenizer=tokenizer)


def stats_from_paths(
    rows: Iterable[Mapping[str, object]], stats: SuccessStats | None = None
) -> SuccessStats:
    """Replay stored attempts into ``stats`` (a new one by default) to resume a search.

    ``rows`` are the JSON lines ``harmscope attack`` writes: each has a ``path`` list of
    attempts with ``transform`` (empty for the plain request) and ``success``.
    """
    stats = stats if stats is not None else SuccessStats()
    for row in rows:
        path = row.get("path")
        for attempt in path if isinstance(path, list) else ():
            chain = attempt.get("transform") if isinstance(attempt, dict) else None
            if chain:
                stats.update(str(chain), bool(attempt.get("success")))
    return stats


async def adaptive_search(
    case: Case,
    target: Target,
    judge: Judge,
    transforms: Sequence[Transform],
    *,
    budget: Budget,
    params: GenerationParams | None = None,
    stats: SuccessStats | None = None,
    max_depth: int = 2,
    is_success: Callable[[Verdict], bool] = full_compliance,
    tokenizer: TokenCounter | None = None,
) -> SearchResult:
    """Search transforms (and compositions up to ``max_depth`` = 2) until the target complies.

    Args:
        case: The untransformed case.
        target: The system under test.
        judge: Reads each answer.
        transforms: The transforms to try (compositions are built from them).
        budget: Charged ``prompt tokens + max_new_tokens`` before each request (unused
            completion tokens are refunded when the target reports its count).
        params: Generation parameters.
        stats: Success statistics shared across cases; updated in place.
        max_depth: 1 for single transforms only, 2 to add ordered pairs.
        is_success: Which verdicts end the search (default: full compliance).
        tokenizer: Counts prompt tokens (default: four characters per token).

    Returns:
        The stop reason and every attempt.
    """
    if max_depth not in (1, 2):
        raise ValueError("max_depth must be 1 or 2")
    search = _Search(
        target, judge, budget, params or GenerationParams(),
        stats if stats is not None else SuccessStats(),
        is_success, tokenizer,
    )  # fmt: skip
    first = await search.attempt("", case)
    if first is None:
        return SearchResult(case.id, "budget", tuple(search.path))
    if first.success:
        return SearchResult(case.id, "plain_compliance", tuple(search.path))
    pending = _candidates(transforms, max_depth)
    while pending:
        best = min(range(len(pending)), key=lambda i: (-search.stats.score(pending[i]), i))
        chain = pending.pop(best)
        transform = compose(*chain)
        for variant in run_transform(transform, case):
            attempt = await search.attempt(transform.id, variant)
            if attempt is None:
                return SearchResult(case.id, "budget", tuple(search.path))
            if attempt.success:
                return SearchResult(case.id, "success", tuple(search.path))
    return SearchResult(case.id, "exhausted", tuple(search.path))


class SearchOptions(TypedDict, total=False):
    """What :func:`search_cases` passes to every :func:`adaptive_search` (see its arguments)."""

    params: GenerationParams | None
    max_depth: int
    is_success: Callable[[Verdict], bool]
    tokenizer: TokenCounter | None


async def search_cases(
    cases: Iterable[Case],
    target: Target,
    judge: Judge,
    transforms: Sequence[Transform],
    *,
    budget: Budget,
    stats: SuccessStats | None = None,
    **options: Unpack[SearchOptions],
) -> list[SearchResult]:
    """Run :func:`adaptive_search` on each case in turn, sharing ``stats`` and ``budget``.

    Once the budget is exhausted the remaining cases get an empty ``budget`` result.
    """
    stats = stats if stats is not None else SuccessStats()
    results = []
    for case in cases:
        if budget.exhausted:
            results.append(SearchResult(case.id, "budget"))
            continue
        result = await adaptive_search(
            case, target, judge, transforms, budget=budget, stats=stats, **options
        )
        results.append(result)
    log.debug("adaptive search: %d cases, ranking %s", len(results), stats.ranking()[:5])
    return results
