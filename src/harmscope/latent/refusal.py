"""Refusal direction selection, scored by refusal log-odds (:mod:`harmscope.latent.refusal_score`).

Selection: every diff-in-means vector over (t_post-inst position, layer) is a candidate. Each
is scored on validation prompts by *bypass* (mean refusal score on harmful prompts with the
direction ablated: lower is better), *induce* (mean refusal score on harmless prompts with the
vector added at its layer: higher is better) and *KL* (next-token divergence on harmless
prompts under ablation: lower is better). Candidates in the last 20% of layers, with induce
<= ``min_induce`` (0) or KL >= ``kl_max`` (0.1) are filtered out; the lowest bypass wins. When
none passes, the selection says so (``filtered=False``, ``best`` is the lowest bypass of the
rest, for the record): such a vector is not a refusal direction and callers do not use it.

A refusal direction only means something for a model that refuses: with ``min_gap`` set,
selection stops before scoring any candidate (raising :class:`RefusalNotMeasurable`) when the
mean refusal score of the harmful validation prompts exceeds the harmless ones' by less.

The scoring functions of :mod:`harmscope.latent.refusal_score` stay importable from here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from harmscope.errors import HarmscopeError
from harmscope.latent import refusal_score as _score
from harmscope.latent.directions import DiffInMeans
from harmscope.latent.positions import TemplateLayout, template_layout
from harmscope.latent.refusal_score import *  # noqa: F403 - re-exported: see __all__
from harmscope.latent.refusal_score import (
    RefusalPhrases,
    kl_divergence,
    phrase_log_odds,
    phrase_logprobs,
)
from harmscope.latent.results import CandidateScore

__all__ = ["Candidate", "RefusalNotMeasurable", "RefusalSelection", "select_refusal_direction"]
__all__ += _score.__all__

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


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


Candidate = CandidateScore
"""One candidate refusal direction and its selection scores, as the fit reports them."""


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
    phrases: RefusalPhrases
    """The refusal openings the scores are log-odds of."""


def select_refusal_direction(
    model: Any,
    tokenizer: Any,
    dim: DiffInMeans,
    harmful_val: Sequence[str],
    harmless_val: Sequence[str],
    *,
    phrases: RefusalPhrases | None = None,
    max_layer_frac: float = 0.8,
    kl_max: float = 0.1,
    min_induce: float = 0.0,
    positions: Sequence[int] | None = None,
    layers: Sequence[int] | None = None,
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
        phrases: Refusal openings to score (default: :meth:`RefusalPhrases.first_tokens`).
        max_layer_frac: Candidates at layers ``>= frac * L`` are not scored.
        kl_max: Largest mean KL a passing candidate may cause.
        min_induce: A passing candidate's induce score must exceed this.
        positions: Negative offsets to try (default: every post-instruction position).
        layers: Layers to try (default: all below ``max_layer_frac``; others are dropped).
        batch_size: Prompts per forward pass.
        min_gap: Smallest harmful-minus-harmless gap in mean refusal score (no check: None).

    Raises:
        RefusalNotMeasurable: The gap is below ``min_gap``.
        HarmscopeError: Positions out of range.
    """
    phrases = phrases or RefusalPhrases.first_tokens(tokenizer)
    n_post = dim.direction_.shape[1]
    offsets = list(positions) if positions is not None else list(range(-n_post, 0))
    if any(not -n_post <= off <= -1 for off in offsets):
        raise HarmscopeError(f"positions must be offsets between -{n_post} and -1")
    tried = _layers_to_try(dim.direction_.shape[0], max_layer_frac, layers)
    scorer = _Scorer(model, tokenizer, phrases, batch_size, template_layout(tokenizer))
    base_safe, lo_safe = scorer(harmless_val)
    mean_harm = float(scorer(harmful_val)[1].mean())
    mean_safe = float(lo_safe.mean())
    if min_gap is not None and mean_harm - mean_safe < min_gap:
        raise RefusalNotMeasurable(harmful=mean_harm, harmless=mean_safe, min_gap=min_gap)
    cands = [
        _candidate(
            scorer,
            dim.direction_[layer, n_post + off],
            layer,
            off,
            base_safe,
            (harmful_val, harmless_val),
            (min_induce, kl_max),
        )
        for layer in tried
        for off in offsets
    ]
    passing = [c for c in cands if c.passed]
    best = min(passing or cands, key=lambda c: c.bypass)
    return RefusalSelection(
        best=best,
        vector=dim.direction_[best.layer, n_post + best.position].astype(np.float32),
        filtered=bool(passing),
        baseline_harmful=mean_harm,
        baseline_harmless=mean_safe,
        candidates=tuple(cands),
        phrases=phrases,
    )


def _layers_to_try(n_layers: int, max_layer_frac: float, layers: Sequence[int] | None) -> list[int]:
    top = max(1, int(max_layer_frac * n_layers))
    tried = sorted({li for li in layers if 0 <= li < top}) if layers is not None else range(top)
    if not tried:
        raise HarmscopeError(f"no layer to try: layers must lie in 0..{top - 1}")
    return list(tried)


@dataclass(frozen=True, slots=True)
class _Scorer:
    """First-token log-probabilities and refusal log-odds of prompts, hooks applying."""

    model: Any
    tokenizer: Any
    phrases: RefusalPhrases
    batch_size: int
    layout: TemplateLayout

    def __call__(self, texts: Sequence[str]) -> tuple[F32, F64]:
        first, lp = phrase_logprobs(
            self.model,
            self.tokenizer,
            texts,
            self.phrases,
            batch_size=self.batch_size,
            layout=self.layout,
        )
        return first, phrase_log_odds(lp)


def _candidate(
    score: _Scorer,
    vec: F32,
    layer: int,
    off: int,
    base_safe: F32,
    val: tuple[Sequence[str], Sequence[str]],
    limits: tuple[float, float],
) -> Candidate:
    """Bypass, induce and KL of one candidate vector, and whether it passes the filters."""
    from harmscope.latent.intervene import ablate, add_direction

    (harmful_val, harmless_val), (min_induce, kl_max) = val, limits
    with ablate(score.model, vec):
        bypass = float(score(harmful_val)[1].mean())
        safe_abl = score(harmless_val)[0]
    with add_direction(score.model, vec, layer=layer):
        induce = float(score(harmless_val)[1].mean())
    kl = float(kl_divergence(base_safe, safe_abl).mean())
    log.info("layer %d pos %d: bypass %.2f induce %.2f kl %.3f", layer, off, bypass, induce, kl)
    passed = induce > min_induce and kl < kl_max
    return Candidate(layer=layer, position=off, bypass=bypass, induce=induce, kl=kl, passed=passed)
