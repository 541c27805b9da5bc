"""End-to-end latent workflows over a loaded model: fit, evaluate, steer.

These are the library functions the ``harmscope latent`` commands call; each returns a plain
JSON-able dict.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from harmscope.errors import DataError, HarmscopeError
from harmscope.latent.capture import capture_activations
from harmscope.latent.directions import DiffInMeans, Direction, DirectionMeta, data_hash
from harmscope.latent.generate import generate_greedy
from harmscope.latent.probe import LatentGuard, auroc
from harmscope.latent.prompts import LabelledPrompt, split_prompts

__all__ = [
    "FitOptions",
    "evaluate_guard",
    "fit_latent",
    "post_auroc",
    "steer_prompt",
]

log = logging.getLogger(__name__)


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


def _texts(items: Sequence[LabelledPrompt]) -> list[str]:
    return [p.text for p in items]


def _labels(items: Sequence[LabelledPrompt]) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.asarray([p.label == "unsafe" for p in items], dtype=np.int64)


def fit_latent(
    model: Any,
    tokenizer: Any,
    *,
    model_id: str,
    harmful: Sequence[str],
    harmless: Sequence[str],
    out: str | Path,
    options: FitOptions | None = None,
) -> dict[str, Any]:
    """Fit the Latent Guard, the harmfulness direction and the refusal direction; save all.

    Writes ``guard/``, ``harmfulness/``, ``refusal/`` and ``report.json`` into ``out``.

    Raises:
        DataError: Too few prompts for the split.
    """
    opt = options or FitOptions()
    harm, safe = list(dict.fromkeys(harmful)), list(dict.fromkeys(harmless))
    if opt.max_per_class is not None:
        harm, safe = harm[: opt.max_per_class], safe[: opt.max_per_class]
    items = [LabelledPrompt(t, "unsafe") for t in harm] + [LabelledPrompt(t, "safe") for t in safe]
    splits = split_prompts(items, fractions=opt.fractions, seed=opt.seed)
    for name, part in (("train", splits.train), ("validation", splits.val)):
        if len(set(_labels(part).tolist())) < 2:
            raise DataError(f"the {name} split lacks harmful or harmless prompts; add more")
    train_harm = [p.text for p in splits.train if p.label == "unsafe"]
    train_safe = [p.text for p in splits.train if p.label == "safe"]
    dhash = data_hash([*train_harm, *train_safe])
    bs = opt.batch_size
    a_harm = capture_activations(model, tokenizer, train_harm, batch_size=bs)
    a_safe = capture_activations(model, tokenizer, train_safe, batch_size=bs)
    a_val = capture_activations(model, tokenizer, _texts(splits.val), batch_size=bs)
    val_y = _labels(splits.val)
    guard = LatentGuard().fit(a_harm.inst, a_safe.inst, val=a_val.inst, val_labels=val_y)
    report: dict[str, Any] = {
        "model_id": model_id,
        "seed": opt.seed,
        "data_hash": dhash,
        "n": {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)},
        "post_inst_tokens": list(a_harm.layout.post_tokens),
        "guard": {
            "layer": guard.layer_,
            "val_auroc": guard.per_layer_[guard.layer_].auroc,
            "per_layer_val": [asdict(s) for s in guard.per_layer_],
        },
        "post_per_layer_val": post_auroc(a_harm.post, a_safe.post, a_val.post, val_y),
    }
    if splits.test and len(set(_labels(splits.test).tolist())) == 2:
        a_test = capture_activations(model, tokenizer, _texts(splits.test), batch_size=bs)
        report["guard"]["test"] = evaluate_guard(guard, a_test.inst, _labels(splits.test))
    out_dir = Path(out)
    guard.save(out_dir / "guard", model_id=model_id, data_hash=dhash, seed=opt.seed)
    common = dict(model_id=model_id, data_hash=dhash, seed=opt.seed)
    Direction(
        guard.dim_.direction_[guard.layer_],
        DirectionMeta(
            kind="harmfulness",
            layer=guard.layer_,
            position="inst",
            n_harmful=len(train_harm),
            n_harmless=len(train_safe),
            **common,
        ),
    ).save(out_dir / "harmfulness")
    if opt.refusal:
        report["refusal"] = _fit_refusal(
            model,
            tokenizer,
            (a_harm.post, train_harm),
            (a_safe.post, train_safe),
            splits.val,
            out_dir,
            common,
            opt,
        )
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _fit_refusal(
    model: Any,
    tokenizer: Any,
    harm: tuple[Any, Sequence[str]],
    safe: tuple[Any, Sequence[str]],
    val: Sequence[LabelledPrompt],
    out_dir: Path,
    common: dict[str, Any],
    opt: FitOptions,
) -> dict[str, Any]:
    from harmscope.latent.refusal import (
        RefusalNotMeasurable,
        behaviour_mask_of,
        refusal_phrases_for,
        select_refusal_direction,
    )

    (harm_post, harm_texts), (safe_post, safe_texts) = harm, safe
    v_harm = [p.text for p in val if p.label == "unsafe"][: opt.refusal_val]
    v_safe = [p.text for p in val if p.label == "safe"][: opt.refusal_val]
    bs = opt.batch_size
    phrases = refusal_phrases_for(model, tokenizer, v_harm, score=opt.refusal_score, batch_size=bs)
    kept = None
    if opt.refusal_filter_fit:
        kept = behaviour_mask_of(model, tokenizer, harm_texts, safe_texts, phrases, batch_size=bs)
    if kept is not None:
        harm_post, safe_post = np.asarray(harm_post)[kept[0]], np.asarray(safe_post)[kept[1]]
    dim = DiffInMeans().fit(harm_post, safe_post)
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
        return {
            "skipped": True,
            "reason": str(exc),
            "refusal_phrases": phrases.as_dict(),
            "baseline_harmful_log_odds": exc.harmful,
            "baseline_harmless_log_odds": exc.harmless,
            "gap": exc.gap,
            "min_gap": exc.min_gap,
        }
    summary = {
        "refusal_phrases": phrases.as_dict(),
        "fit_filtered_by_behaviour": kept is not None,
        "n_fit": {"harmful": dim.n_harmful_, "harmless": dim.n_harmless_},
        "baseline_harmful_log_odds": sel.baseline_harmful,
        "baseline_harmless_log_odds": sel.baseline_harmless,
        "candidates": [asdict(c) for c in sel.candidates],
    }
    if not sel.filtered:
        reason = (
            f"no candidate passed the filters (induce > {opt.refusal_min_induce:g} and "
            f"KL < {opt.refusal_kl_max:g}): no refusal direction saved"
        )
        log.warning("%s", reason)
        return {"skipped": True, "reason": reason, **summary}
    best = sel.best
    n_post = dim.direction_.shape[1]
    unit = dim.unit(best.layer, n_post + best.position).astype(np.float64)
    at = (slice(None), best.layer, n_post + best.position)
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
    ).save(out_dir / "refusal")
    return {
        "skipped": False,
        "layer": best.layer,
        "position": best.position,
        **scores,
        "passed_filters": sel.filtered,
        **summary,
    }


def post_auroc(harm_post: Any, safe_post: Any, val_post: Any, val_y: Any) -> list[dict[str, Any]]:
    """Validation AUROC of the diff-in-means projection at every layer and t_post-inst offset.

    Arrays are shaped ``(n, layers, n_post, d)``; offsets count back from the prompt's end.
    """
    dim = DiffInMeans().fit(harm_post, safe_post)
    n_layers, n_post = dim.direction_.shape[0], dim.direction_.shape[1]
    rows = []
    for layer in range(n_layers):
        for p in range(n_post):
            if not np.any(dim.direction_[layer, p]):
                continue  # a position identical in every prompt (before any attention mixes)
            score = dim.transform(val_post, layer, p)
            rows.append({"layer": layer, "position": p - n_post, "auroc": auroc(val_y, score)})
    return rows


def evaluate_guard(guard: LatentGuard, inst: Any, labels: Any) -> dict[str, Any]:
    """AUROC at the guard's layer and at every layer, plus threshold metrics, on labelled acts.

    Raises:
        DataError: The labels are all one class.
    """
    y = np.asarray(labels).astype(bool)
    if y.all() or not y.any():
        raise DataError("evaluation data needs both safe and unsafe prompts")
    per_layer = [{"layer": i, "auroc": auroc(y, guard._raw(inst, i))} for i in range(inst.shape[1])]
    pred = guard.predict(inst)
    proba = guard.proba_at_layer(np.asarray(inst)[:, guard.layer_])
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn = int((~pred & y).sum())
    return {
        "n": int(len(y)),
        "auroc": auroc(y, guard.decision_function(inst)),
        "layer": guard.layer_,
        "accuracy": float((pred == y).mean()),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "fpr": fp / int((~y).sum()),
        # calibrated on the fitting prompts: may sit lower or higher on other prompts
        "mean_proba": {"unsafe": float(proba[y].mean()), "safe": float(proba[~y].mean())},
        "per_layer": per_layer,
    }


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
) -> dict[str, Any]:
    """Greedy answers to ``prompt`` without and with the intervention, and refusal log-odds."""
    from harmscope.latent.hooks import hooked
    from harmscope.latent.intervene import ablation_hooks, addition_hooks
    from harmscope.latent.refusal import next_token_logprobs, refusal_log_odds, refusal_token_ids

    def specs() -> Any:
        if mode == "ablate":
            return ablation_hooks(model, direction.vector)
        if mode == "add":
            return addition_hooks(
                model,
                direction.vector,
                layer=direction.meta.layer,
                coef=coef,
                first_pass_only=first_pass_only,
            )
        raise HarmscopeError(f"mode must be ablate or add, not {mode!r}")

    ids = refusal_token_ids(tokenizer)
    base_lo = float(refusal_log_odds(next_token_logprobs(model, tokenizer, [prompt]), ids)[0])
    base = generate_greedy(model, tokenizer, [prompt], max_new_tokens)[0]
    with hooked(specs()):
        lo = float(refusal_log_odds(next_token_logprobs(model, tokenizer, [prompt]), ids)[0])
    with hooked(specs()):
        steered = generate_greedy(model, tokenizer, [prompt], max_new_tokens)[0]
    return {
        "prompt": prompt,
        "mode": mode,
        "coef": coef if mode == "add" else None,
        "layer": direction.meta.layer,
        "baseline": base,
        "steered": steered,
        "refusal_log_odds": {"baseline": base_lo, "steered": lo},
    }
