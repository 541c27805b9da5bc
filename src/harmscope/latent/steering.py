"""Steering a loaded model with a saved direction: one prompt, or a coefficient sweep.

:func:`steer_prompt` and :func:`sweep_direction` are the library functions ``harmscope latent
steer`` and ``harmscope latent sweep`` call; :func:`load_direction` finds the direction they
use (a folder, or one shipped for the model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from harmscope.errors import HarmscopeError
from harmscope.latent.directions import Direction
from harmscope.latent.generate import generate_greedy
from harmscope.latent.results import (
    PhraseSummary,
    PolyFitRow,
    SteerLogOdds,
    SteerResult,
    SweepPointRow,
    SweepRunResult,
)

__all__ = ["load_direction", "steer_prompt", "sweep_direction"]

SHIPPED_KINDS = ("refusal", "harmfulness")


def load_direction(spec: str, model_id: str) -> Direction:
    """A saved direction: a folder, or ``refusal`` / ``harmfulness`` shipped for the model.

    Raises:
        HarmscopeError: A shipped name with no such direction shipped for ``model_id``.
    """
    from harmscope.latent.signals import shipped_probe_dir

    path = Path(spec)
    if spec in SHIPPED_KINDS and not path.exists():
        path = shipped_probe_dir(model_id) / spec
        if not (path / "direction.json").is_file():
            raise HarmscopeError(
                f"no {spec} direction is shipped for {model_id}; pass the folder of one "
                "(`harmscope latent fit --out DIR` writes DIR/harmfulness and DIR/refusal)"
            )
    return Direction.load(path)


def steer_prompt(
    model: Any,
    tokenizer: Any,
    prompt: str,
    direction: Direction,
    *,
    mode: Literal["ablate", "add"],
    coef: float = 1.0,
    max_new_tokens: int = 48,
    first_pass_only: bool = False,
) -> SteerResult:
    """Greedy answers to ``prompt`` without and with the intervention, and refusal log-odds.

    Raises:
        HarmscopeError: ``mode`` is neither ``ablate`` nor ``add``.
    """
    from harmscope.latent.hooks import hooked
    from harmscope.latent.intervene import ablation_hooks, addition_hooks
    from harmscope.latent.refusal_score import (
        next_token_logprobs,
        refusal_log_odds,
        refusal_token_ids,
    )

    if mode not in ("ablate", "add"):
        raise HarmscopeError(f"mode must be ablate or add, not {mode!r}")

    def specs() -> Any:
        if mode == "ablate":
            return ablation_hooks(model, direction.vector)
        return addition_hooks(
            model,
            direction.vector,
            layer=direction.meta.layer,
            coef=coef,
            first_pass_only=first_pass_only,
        )

    def log_odds() -> float:
        lp = next_token_logprobs(model, tokenizer, [prompt])
        return float(refusal_log_odds(lp, refusal_token_ids(tokenizer))[0])

    base_lo, base = log_odds(), generate_greedy(model, tokenizer, [prompt], max_new_tokens)[0]
    with hooked(specs()):
        lo = log_odds()
    with hooked(specs()):
        steered = generate_greedy(model, tokenizer, [prompt], max_new_tokens)[0]
    return SteerResult(
        prompt=prompt,
        mode=mode,
        coef=coef if mode == "add" else None,
        layer=direction.meta.layer,
        baseline=base,
        steered=steered,
        refusal_log_odds=SteerLogOdds(baseline=base_lo, steered=lo),
        first_pass_only=first_pass_only if mode == "add" else None,
    )


def sweep_direction(
    model: Any,
    tokenizer: Any,
    direction: Direction,
    *,
    model_id: str,
    harmful: Sequence[str],
    coefs: Sequence[float],
    refusal_score: Literal["phrases", "first-token"] = "phrases",
    batch_size: int = 8,
) -> SweepRunResult:
    """Alignment and helpfulness of the model with ``direction`` added at each coefficient.

    Alignment is the refusal log-odds of the openings of the model's own refusals to
    ``harmful`` (first tokens when it refuses none, or with ``refusal_score="first-token"``).
    """
    from harmscope.latent.refusal_score import refusal_phrases_for
    from harmscope.latent.sweep import sweep_tradeoff

    phrases = refusal_phrases_for(
        model, tokenizer, harmful, score=refusal_score, batch_size=batch_size
    )
    res = sweep_tradeoff(
        model,
        tokenizer,
        direction.vector,
        layer=direction.meta.layer,
        coefs=list(coefs),
        harmful=harmful,
        phrases=phrases,
        batch_size=batch_size,
    )
    return SweepRunResult(
        model_id=model_id,
        layer=res.layer,
        refusal_phrases=PhraseSummary.model_validate(phrases.as_dict()),
        points=[SweepPointRow(**asdict(p)) for p in res.points],
        fits={k: {f: PolyFitRow(**asdict(v)) for f, v in d.items()} for k, d in res.fits.items()},
    )
