"""The refusal part of the latent fit: choose, score and save the refusal direction.

The diff-in-means is fitted on the post-instruction activations of the training prompts
(optionally only those the model refuses and answers, as Arditi et al. filter them), its
candidates are scored on validation prompts (:func:`~harmscope.latent.refusal.
select_refusal_direction`) and the winner is saved with the mean projections the scan's refusal
signal is scaled by. When the model barely refuses, or no candidate passes the filters, nothing
is saved and the result says why.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harmscope.latent.directions import DiffInMeans, Direction, DirectionMeta
from harmscope.latent.options import FitOptions
from harmscope.latent.prompts import LabelledPrompt
from harmscope.latent.refusal import RefusalNotMeasurable, RefusalSelection
from harmscope.latent.refusal_score import RefusalPhrases
from harmscope.latent.results import PhraseSummary, RefusalFit

__all__ = ["fit_refusal"]

log = logging.getLogger(__name__)

Fitting = tuple[Any, Sequence[str]]
"""Post-instruction activations ``(n, L, P, d)`` of a class and its prompts' texts."""


def _diff_in_means(
    model: Any,
    tokenizer: Any,
    harm: Fitting,
    safe: Fitting,
    phrases: RefusalPhrases,
    opt: FitOptions,
) -> tuple[DiffInMeans, Any, Any, bool]:
    """The diff-in-means of the (behaviour-filtered) fitting prompts, and the activations."""
    from harmscope.latent.refusal_score import behaviour_mask_of

    (harm_post, harm_texts), (safe_post, safe_texts) = harm, safe
    kept = None
    if opt.refusal_filter_fit:
        kept = behaviour_mask_of(
            model, tokenizer, harm_texts, safe_texts, phrases, batch_size=opt.batch_size
        )
    if kept is not None:
        harm_post, safe_post = np.asarray(harm_post)[kept[0]], np.asarray(safe_post)[kept[1]]
    return DiffInMeans().fit(harm_post, safe_post), harm_post, safe_post, kept is not None


def fit_refusal(
    model: Any,
    tokenizer: Any,
    harm: Fitting,
    safe: Fitting,
    val: Sequence[LabelledPrompt],
    folder: Path,
    common: dict[str, Any],
    opt: FitOptions,
) -> RefusalFit:
    """Select the refusal direction and save it into ``folder`` (unless skipped).

    Args:
        model: The causal LM.
        tokenizer: Its tokenizer.
        harm: Harmful training activations and texts.
        safe: Harmless training activations and texts.
        val: Validation prompts; the first ``opt.refusal_val`` of each class score candidates.
        folder: Where the direction is saved.
        common: ``model_id``, ``data_hash`` and ``seed`` of the direction's metadata.
        opt: The fit's options.
    """
    from harmscope.latent.refusal import select_refusal_direction
    from harmscope.latent.refusal_score import refusal_phrases_for

    v_harm = [p.text for p in val if p.label == "unsafe"][: opt.refusal_val]
    v_safe = [p.text for p in val if p.label == "safe"][: opt.refusal_val]
    phrases = refusal_phrases_for(
        model, tokenizer, v_harm, score=opt.refusal_score, batch_size=opt.batch_size
    )
    dim, harm_post, safe_post, filtered = _diff_in_means(model, tokenizer, harm, safe, phrases, opt)
    try:
        sel = select_refusal_direction(
            model,
            tokenizer,
            dim,
            v_harm,
            v_safe,
            phrases=phrases,
            kl_max=opt.refusal_kl_max,
            min_induce=opt.refusal_min_induce,
            positions=opt.refusal_positions,
            batch_size=opt.batch_size,
            min_gap=opt.refusal_min_gap,
        )
    except RefusalNotMeasurable as exc:
        log.warning("%s", exc)
        return RefusalFit(
            skipped=True,
            reason=str(exc),
            refusal_phrases=PhraseSummary.model_validate(phrases.as_dict()),
            baseline_harmful_log_odds=exc.harmful,
            baseline_harmless_log_odds=exc.harmless,
            gap=exc.gap,
            min_gap=exc.min_gap,
        )
    summary = RefusalFit(
        skipped=True,
        refusal_phrases=PhraseSummary.model_validate(phrases.as_dict()),
        fit_filtered_by_behaviour=filtered,
        n_fit={"harmful": dim.n_harmful_, "harmless": dim.n_harmless_},
        baseline_harmful_log_odds=sel.baseline_harmful,
        baseline_harmless_log_odds=sel.baseline_harmless,
        candidates=list(sel.candidates),
    )
    if not sel.filtered:
        reason = (
            f"no candidate passed the filters (induce > {opt.refusal_min_induce:g} and "
            f"KL < {opt.refusal_kl_max:g}): no refusal direction saved"
        )
        log.warning("%s", reason)
        return summary.model_copy(update={"reason": reason})
    scores = _save(sel, dim, (harm_post, safe_post), folder, common)
    return summary.model_copy(update={"skipped": False, "passed_filters": True, **scores})


def _save(
    sel: RefusalSelection,
    dim: DiffInMeans,
    posts: tuple[Any, Any],
    folder: Path,
    common: dict[str, Any],
) -> dict[str, Any]:
    """Save the selected direction; return its scores (layer, position and the five)."""
    best, n_post = sel.best, dim.direction_.shape[1]
    unit = dim.unit(best.layer, n_post + best.position).astype(np.float64)
    at = (slice(None), best.layer, n_post + best.position)
    harm_post, safe_post = posts
    scores = {
        "bypass": best.bypass,
        "induce": best.induce,
        "kl": best.kl,
        # mean projections of the fitting prompts: the 0 and 1 of the scan's refusal signal
        "proj_harmful": float(np.asarray(harm_post)[at].astype(np.float64).dot(unit).mean()),
        "proj_harmless": float(np.asarray(safe_post)[at].astype(np.float64).dot(unit).mean()),
    }
    Direction(
        sel.vector,
        DirectionMeta(
            kind="refusal",
            layer=best.layer,
            position=best.position,
            scores=scores,
            n_harmful=dim.n_harmful_,
            n_harmless=dim.n_harmless_,
            **common,
        ),
    ).save(folder)
    return {"layer": best.layer, "position": best.position, **scores}
