"""Options of the latent fit (:func:`harmscope.latent.pipeline.fit_latent`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FitOptions"]


@dataclass(frozen=True, slots=True)
class FitOptions:
    """Options of :func:`fit_latent`."""

    seed: int = 0
    """Seed of the train / validation / test split."""
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    """Shares of train, validation and test."""
    batch_size: int = 8
    """Prompts per forward pass."""
    max_per_class: int | None = None
    """Use at most this many harmful and this many harmless prompts."""
    refusal: bool = True
    """Also select a refusal direction (costs three passes per candidate)."""
    refusal_val: int = 16
    """Validation prompts per class used to score refusal candidates."""
    refusal_positions: tuple[int, ...] | None = None
    """Post-instruction offsets to try (default: all)."""
    refusal_min_gap: float | None = 1.0
    """Skip refusal selection (with the reason in the report) when harmful validation prompts'
    mean refusal log-odds exceed the harmless ones' by less than this; ``None``: never skip."""
    refusal_score: Literal["phrases", "first-token"] = "phrases"
    """Score refusal by the openings of the model's own refusals to the harmful validation
    prompts (falling back to first tokens when it refused none), or by first tokens only."""
    refusal_kl_max: float = 0.1
    """Arditi et al.'s KL filter: a candidate must change harmless next-token predictions less."""
    refusal_min_induce: float = 0.0
    """Arditi et al.'s induce filter: added to harmless prompts, a candidate must raise the
    mean refusal log-odds above this."""
    refusal_filter_fit: bool = True
    """Fit the refusal direction on the harmful prompts the model refuses and the harmless
    ones it answers only (Arditi et al.), when at least 4 of each remain."""
