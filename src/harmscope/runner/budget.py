"""Cost estimates before a run and request/token budgets during one.

``estimate`` says how many requests and tokens a set of cases will take; a :class:`Budget`
caps what a run (or an adaptive search) may spend. Without a tokenizer a token is taken to be
four characters, rounded up per message, which is the usual rule of thumb for English text.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol, runtime_checkable

from harmscope.records import Case, GenerationParams, Message

__all__ = [
    "CHARS_PER_TOKEN",
    "Budget",
    "Estimate",
    "TokenCounter",
    "count_tokens",
    "estimate",
    "prompt_tokens",
]

CHARS_PER_TOKEN = 4
"""Characters per token assumed when no tokenizer is given."""


@runtime_checkable
class _Encoder(Protocol):
    def encode(self, text: str) -> list[int]: ...


TokenCounter = Callable[[str], int] | _Encoder
"""A tokenizer: anything with ``encode(text) -> ids`` (Hugging Face), or ``text -> count``."""


class Estimate(NamedTuple):
    """The expected cost of running some cases once."""

    requests: int
    """Target calls."""
    prompt_tokens: int
    """Tokens sent, summed over cases."""
    max_completion_tokens: int
    """Upper bound on tokens generated (``max_new_tokens`` per request)."""

    @property
    def max_total_tokens(self) -> int:
        """Prompt tokens plus the completion bound."""
        return self.prompt_tokens + self.max_completion_tokens


def count_tokens(text: str, tokenizer: TokenCounter | None = None) -> int:
    """Tokens in ``text``: by ``tokenizer`` if given, else ``ceil(len(text) / 4)``."""
    if tokenizer is None:
        return math.ceil(len(text) / CHARS_PER_TOKEN)
    if isinstance(tokenizer, _Encoder):
        return len(tokenizer.encode(text))
    return int(tokenizer(text))


def prompt_tokens(
    messages: Iterable[Message],
    params: GenerationParams | None = None,
    tokenizer: TokenCounter | None = None,
) -> int:
    """Tokens of a conversation, counted per message, including ``params.system_prompt``.

    The params' system prompt counts only when the conversation has no system message (that
    is when a target prepends it). Chat-template overhead is not counted.
    """
    msgs = list(messages)
    total = sum(count_tokens(m.content, tokenizer) for m in msgs)
    has_system = any(m.role == "system" for m in msgs)
    if params is not None and params.system_prompt and not has_system:
        total += count_tokens(params.system_prompt, tokenizer)
    return total


def estimate(
    cases: Iterable[Case],
    params: GenerationParams | None = None,
    *,
    tokenizer: TokenCounter | None = None,
    live: bool = False,
) -> Estimate:
    """What running ``cases`` once with ``params`` costs.

    One request per case; with ``live``, one per user turn of a multi-turn case, each turn's
    prompt counted as the conversation up to it (authored replies standing in for the answers).
    """
    params = params or GenerationParams()
    requests = tokens = 0
    for case in cases:
        users = [i for i, m in enumerate(case.messages) if m.role == "user"]
        cuts = users if live and len(users) > 1 else [len(case.messages) - 1]
        for cut in cuts:
            requests += 1
            tokens += prompt_tokens(case.messages[: cut + 1], params, tokenizer)
    return Estimate(requests, tokens, requests * params.max_new_tokens)


class Budget:
    """A cap on requests and tokens, shared by threads and tasks.

    ``try_spend`` is atomic: it spends both amounts or neither. A limit of ``None`` is no
    limit. Spending never blocks, so the lock is safe to take from async code.

    Args:
        max_requests: Most requests allowed.
        max_tokens: Most tokens allowed (prompt plus completion, as the caller counts them).
    """

    def __init__(self, max_requests: int | None = None, max_tokens: int | None = None) -> None:
        for name, value in (("max_requests", max_requests), ("max_tokens", max_tokens)):
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self._requests = 0
        self._tokens = 0
        self._lock = threading.Lock()

    def try_spend(self, requests: int = 1, tokens: int = 0) -> bool:
        """Spend ``requests`` and ``tokens`` if both fit; return whether they did."""
        if requests < 0 or tokens < 0:
            raise ValueError("cannot spend a negative amount")
        with self._lock:
            if self.max_requests is not None and self._requests + requests > self.max_requests:
                return False
            if self.max_tokens is not None and self._tokens + tokens > self.max_tokens:
                return False
            self._requests += requests
            self._tokens += tokens
            return True

    def refund(self, requests: int = 0, tokens: int = 0) -> None:
        """Give back part of an earlier spend (e.g. unused completion tokens)."""
        with self._lock:
            self._requests = max(0, self._requests - requests)
            self._tokens = max(0, self._tokens - tokens)

    @property
    def spent_requests(self) -> int:
        """Requests spent so far."""
        return self._requests

    @property
    def spent_tokens(self) -> int:
        """Tokens spent so far."""
        return self._tokens

    @property
    def remaining_requests(self) -> int | None:
        """Requests left (``None``: unlimited)."""
        with self._lock:
            return None if self.max_requests is None else self.max_requests - self._requests

    @property
    def remaining_tokens(self) -> int | None:
        """Tokens left (``None``: unlimited)."""
        with self._lock:
            return None if self.max_tokens is None else self.max_tokens - self._tokens

    @property
    def exhausted(self) -> bool:
        """Whether no further request can be made (no requests or no tokens left)."""
        with self._lock:
            out_of_requests = self.max_requests is not None and self._requests >= self.max_requests
            out_of_tokens = self.max_tokens is not None and self._tokens >= self.max_tokens
            return out_of_requests or out_of_tokens

    def __repr__(self) -> str:
        return (
            f"Budget(requests={self._requests}/{self.max_requests}, "
            f"tokens={self._tokens}/{self.max_tokens})"
        )
