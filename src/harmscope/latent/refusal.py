"""Refusal log-odds from the next-token distribution, and refusal direction selection.

The refusal score of a prompt (Arditi et al. 2024) is the log-odds that the assistant's first
token is one that starts a refusal ("I", "Sorry", "As", "Unfortunately"...): with
``p = sum of their probabilities``, ``log p - log(1 - p)``.

Selection: every diff-in-means vector over (t_post-inst position, layer) is a candidate. Each
is scored on validation prompts by *bypass* (mean refusal score on harmful prompts with the
direction ablated: lower is better), *induce* (mean refusal score on harmless prompts with the
vector added at its layer: higher is better) and *KL* (next-token divergence on harmless
prompts under ablation: lower is better). Candidates in the last 20% of layers, with induce
<= 0 or KL >= 0.1 are filtered out; the lowest bypass wins. When none passes the filter the
lowest bypass among the rest is returned with ``filtered=False``.

A refusal direction only means something for a model that refuses: with ``min_gap`` set,
selection stops before scoring any candidate (raising :class:`RefusalNotMeasurable`) when the
mean refusal log-odds of the harmful validation prompts exceed the harmless ones' by less.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from harmscope.errors import DataError, HarmscopeError
from harmscope.latent.capture import forward_batch
from harmscope.latent.directions import DiffInMeans
from harmscope.latent.positions import TemplateLayout, encode_prompts, template_layout

__all__ = [
    "REFUSAL_STARTS",
    "Candidate",
    "RefusalNotMeasurable",
    "RefusalSelection",
    "kl_divergence",
    "next_token_logprobs",
    "refusal_log_odds",
    "refusal_token_ids",
    "select_refusal_direction",
]

log = logging.getLogger(__name__)

REFUSAL_STARTS = ("I", "Sorry", "As", "Unfortunately", "Apologies", "I'm")
"""Words that start most refusals; their first tokens form the refusal set."""

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def refusal_token_ids(tokenizer: Any, starts: Sequence[str] = REFUSAL_STARTS) -> tuple[int, ...]:
    """The distinct first token ids of ``starts``, as they would open an answer."""
    ids: list[int] = []
    for word in starts:
        toks = tokenizer(word, add_special_tokens=False)["input_ids"]
        if toks and toks[0] not in ids:
            ids.append(int(toks[0]))
    if not ids:
        raise HarmscopeError("no refusal tokens: the tokenizer encodes none of the starts")
    return tuple(ids)


def next_token_logprobs(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 8,
    layout: TemplateLayout | None = None,
    system: str | None = None,
) -> F32:
    """Log-probabilities ``(n, vocab)`` of the assistant's first token for each instruction.

    Hooks registered on the model (ablation, addition) apply.
    """
    import torch

    if not texts:
        raise DataError("no prompts to score")
    layout = layout or template_layout(tokenizer, system=system)
    parts: list[F32] = []
    for start in range(0, len(texts), batch_size):
        enc = encode_prompts(
            tokenizer, list(texts[start : start + batch_size]), layout=layout, system=system
        )
        logits = forward_batch(model, enc).logits
        last = torch.from_numpy(enc.positions.post[:, -1])
        rows = torch.arange(logits.shape[0])
        parts.append(torch.log_softmax(logits[rows, last].float(), dim=-1).numpy())
    return np.concatenate(parts)


def refusal_log_odds(logprobs: npt.ArrayLike, refusal_ids: Sequence[int]) -> F64:
    """Per-row ``log p - log(1 - p)`` with ``p`` the total probability of ``refusal_ids``."""
    lp = np.asarray(logprobs, dtype=np.float64)
    sub = lp[:, list(refusal_ids)]
    m = sub.max(axis=1, keepdims=True)
    log_p = (m + np.log(np.exp(sub - m).sum(axis=1, keepdims=True)))[:, 0]
    log_p = np.minimum(log_p, -1e-12)
    return np.asarray(log_p - np.log(-np.expm1(log_p)))


def kl_divergence(p_log: npt.ArrayLike, q_log: npt.ArrayLike) -> F64:
    """Per-row KL(p || q) from log-probabilities."""
    p = np.asarray(p_log, dtype=np.float64)
    q = np.asarray(q_log, dtype=np.float64)
    return np.asarray((np.exp(p) * (p - q)).sum(axis=1))


class RefusalNotMeasurable(HarmscopeError):
    """The model refuses harmful prompts too little more than harmless ones to select from."""

    def __init__(self, *, harmful: float, harmless: float, min_gap: float) -> None:
        self.harmful, self.harmless, self.min_gap = harmful, harmless, min_gap
        super().__init__(
            f"the model barely refuses: mean refusal log-odds {harmful:.2f} on harmful vs "
            f"{harmless:.2f} on harmless validation prompts (gap {harmful - harmless:.2f} < "
            f"{min_gap:g}); no refusal direction selected"
        )

    @property
    def gap(self) -> float:
        """Harmful minus harmless mean refusal log-odds."""
        return self.harmful - self.harmless


@dataclass(frozen=True, slots=True)
class Candidate:
    """One candidate refusal direction and its selection scores."""

    layer: int
    """Decoder block it was read at."""
    position: int
    """Negative offset from the prompt's end (-1 = last template token)."""
    bypass: float
    """Mean refusal log-odds on harmful prompts with the direction ablated."""
    induce: float
    """Mean refusal log-odds on harmless prompts with the vector added."""
    kl: float
    """Mean KL on harmless prompts, base vs ablated."""
    passed: bool
    """Whether it passed the layer, induce and KL filters."""


@dataclass(frozen=True, slots=True)
class RefusalSelection:
    """The outcome of refusal direction selection."""

    best: Candidate
    """The chosen candidate."""
    vector: F32
    """Its raw diff-in-means vector."""
    filtered: bool
    """True when the chosen one passed every filter."""
    baseline_harmful: float
    """Mean refusal log-odds on harmful validation prompts, no intervention."""
    baseline_harmless: float
    """Mean refusal log-odds on harmless validation prompts, no intervention."""
    candidates: tuple[Candidate, ...]
    """Every scored candidate."""


def select_refusal_direction(
    model: Any,
    tokenizer: Any,
    dim: DiffInMeans,
    harmful_val: Sequence[str],
    harmless_val: Sequence[str],
    *,
    refusal_ids: Sequence[int] | None = None,
    max_layer_frac: float = 0.8,
    kl_max: float = 0.1,
    positions: Sequence[int] | None = None,
    batch_size: int = 8,
    min_gap: float | None = None,
) -> RefusalSelection:
    """Score every (position, layer) candidate of ``dim`` (fitted on ``(n, L, P, d)``).

    Args:
        model: The causal LM.
        tokenizer: Its tokenizer.
        dim: Diff-in-means fitted on t_post-inst activations.
        harmful_val: Held-out harmful instructions.
        harmless_val: Held-out harmless instructions.
        refusal_ids: Refusal-start token ids (default :func:`refusal_token_ids`).
        max_layer_frac: Candidates at layers ``>= frac * L`` are not scored.
        kl_max: Largest mean KL a passing candidate may cause.
        positions: Negative offsets to try (default: every post-instruction position).
        batch_size: Prompts per forward pass.
        min_gap: Smallest harmful-minus-harmless gap in mean refusal log-odds (no check: None).

    Raises:
        RefusalNotMeasurable: The gap is below ``min_gap``.
        HarmscopeError: Positions out of range.
    """
    from harmscope.latent.intervene import ablate, add_direction

    ids = tuple(refusal_ids or refusal_token_ids(tokenizer))
    layout = template_layout(tokenizer)
    n_layers, n_post = dim.direction_.shape[0], dim.direction_.shape[1]
    offsets = list(positions) if positions is not None else list(range(-n_post, 0))
    if any(not -n_post <= off <= -1 for off in offsets):
        raise HarmscopeError(f"positions must be offsets between -{n_post} and -1")

    def score(texts: Sequence[str]) -> F32:
        return next_token_logprobs(model, tokenizer, texts, batch_size=batch_size, layout=layout)

    base_harm = score(harmful_val)
    base_safe = score(harmless_val)
    mean_harm = float(refusal_log_odds(base_harm, ids).mean())
    mean_safe = float(refusal_log_odds(base_safe, ids).mean())
    if min_gap is not None and mean_harm - mean_safe < min_gap:
        raise RefusalNotMeasurable(harmful=mean_harm, harmless=mean_safe, min_gap=min_gap)
    cands: list[Candidate] = []
    for layer in range(max(1, int(max_layer_frac * n_layers))):
        for off in offsets:
            vec = dim.direction_[layer, n_post + off]
            with ablate(model, vec):
                harm_abl = score(harmful_val)
                safe_abl = score(harmless_val)
            with add_direction(model, vec, layer=layer):
                safe_add = score(harmless_val)
            bypass = float(refusal_log_odds(harm_abl, ids).mean())
            induce = float(refusal_log_odds(safe_add, ids).mean())
            kl = float(kl_divergence(base_safe, safe_abl).mean())
            passed = induce > 0 and kl < kl_max
            cands.append(Candidate(layer, off, bypass, induce, kl, passed))
            log.info(
                "layer %d pos %d: bypass %.2f induce %.2f kl %.3f", layer, off, bypass, induce, kl
            )
    passing = [c for c in cands if c.passed]
    best = min(passing or cands, key=lambda c: c.bypass)
    return RefusalSelection(
        best=best,
        vector=dim.direction_[best.layer, n_post + best.position].astype(np.float32),
        filtered=bool(passing),
        baseline_harmful=mean_harm,
        baseline_harmless=mean_safe,
        candidates=tuple(cands),
    )
