"""End-to-end latent fitting over a loaded model: the guard and both directions.

The guard's metrics on labelled activations live here too.

:func:`fit_latent` is the library function ``harmscope latent fit`` calls; it returns a
:class:`~harmscope.latent.results.FitResult`. :func:`capture_split` and :func:`fit_guard` are
the split-capture-fit steps it shares with ``latent eval``'s guard fitted on the fly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harmscope.errors import DataError
from harmscope.latent.capture import Activations, capture_activations
from harmscope.latent.directions import DiffInMeans, Direction, DirectionMeta, data_hash
from harmscope.latent.options import FitOptions
from harmscope.latent.probe import LatentGuard, auroc
from harmscope.latent.prompts import LabelledPrompt, Splits, split_prompts
from harmscope.latent.refusal_fit import fit_refusal
from harmscope.latent.results import (
    FitResult,
    GuardEval,
    GuardFit,
    LayerAuroc,
    MeanProba,
    PostAuroc,
    SplitSizes,
)
from harmscope.metrics.classification import binary_metrics

__all__ = [
    "FitOptions",
    "SplitActivations",
    "capture_split",
    "evaluate_guard",
    "fit_guard",
    "fit_latent",
    "guard_metrics",
    "post_auroc",
]

log = logging.getLogger(__name__)


def _texts(items: Sequence[LabelledPrompt], label: str | None = None) -> list[str]:
    return [p.text for p in items if label is None or p.label == label]


def _labels(items: Sequence[LabelledPrompt]) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.asarray([p.label == "unsafe" for p in items], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class SplitActivations:
    """Activations of a split's harmful and harmless training prompts and its validation."""

    harm: Activations
    safe: Activations
    val: Activations
    harm_texts: list[str]
    safe_texts: list[str]
    val_labels: np.ndarray[Any, np.dtype[np.int64]]
    """1 for each unsafe validation prompt."""


def capture_split(
    model: Any, tokenizer: Any, splits: Splits, *, batch_size: int = 8
) -> SplitActivations:
    """Capture the training prompts of each class and the validation prompts of ``splits``.

    Raises:
        DataError: The training or validation split lacks harmful or harmless prompts.
    """
    for name, part in (("train", splits.train), ("validation", splits.val)):
        if len(set(_labels(part).tolist())) < 2:
            raise DataError(f"the {name} split lacks harmful or harmless prompts; add more")
    harm, safe = _texts(splits.train, "unsafe"), _texts(splits.train, "safe")
    return SplitActivations(
        harm=capture_activations(model, tokenizer, harm, batch_size=batch_size),
        safe=capture_activations(model, tokenizer, safe, batch_size=batch_size),
        val=capture_activations(model, tokenizer, _texts(splits.val), batch_size=batch_size),
        harm_texts=harm,
        safe_texts=safe,
        val_labels=_labels(splits.val),
    )


def fit_guard(acts: SplitActivations) -> LatentGuard:
    """The Latent Guard fitted on a split's t_inst activations, its layer chosen on validation."""
    return LatentGuard().fit(
        acts.harm.inst, acts.safe.inst, val=acts.val.inst, val_labels=acts.val_labels
    )


def fit_latent(
    model: Any,
    tokenizer: Any,
    *,
    model_id: str,
    harmful: Sequence[str],
    harmless: Sequence[str],
    out: str | Path,
    options: FitOptions | None = None,
) -> FitResult:
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
    acts = capture_split(model, tokenizer, splits, batch_size=opt.batch_size)
    guard = fit_guard(acts)
    dhash = data_hash([*acts.harm_texts, *acts.safe_texts])
    report = FitResult(
        model_id=model_id,
        seed=opt.seed,
        data_hash=dhash,
        n=SplitSizes(train=len(splits.train), val=len(splits.val), test=len(splits.test)),
        post_inst_tokens=list(acts.harm.layout.post_tokens),
        guard=GuardFit(
            layer=guard.layer_,
            val_auroc=guard.per_layer_[guard.layer_].auroc,
            per_layer_val=[LayerAuroc(layer=s.layer, auroc=s.auroc) for s in guard.per_layer_],
        ),
        post_per_layer_val=post_auroc(
            acts.harm.post, acts.safe.post, acts.val.post, acts.val_labels
        ),
    )
    if splits.test and len(set(_labels(splits.test).tolist())) == 2:
        a_test = capture_activations(
            model, tokenizer, _texts(splits.test), batch_size=opt.batch_size
        )
        report.guard.test = guard_metrics(guard, a_test.inst, _labels(splits.test))
    out_dir = Path(out)
    common: dict[str, Any] = dict(model_id=model_id, data_hash=dhash, seed=opt.seed)
    _save_guard(guard, acts, out_dir, common)
    if opt.refusal:
        report.refusal = fit_refusal(
            model,
            tokenizer,
            (acts.harm.post, acts.harm_texts),
            (acts.safe.post, acts.safe_texts),
            list(splits.val),
            out_dir / "refusal",
            common,
            opt,
        )
    (out_dir / "report.json").write_text(report.model_dump_json(indent=2) + "\n")
    return report


def _save_guard(
    guard: LatentGuard, acts: SplitActivations, out_dir: Path, common: dict[str, Any]
) -> None:
    guard.save(out_dir / "guard", **common)
    Direction(
        guard.dim_.direction_[guard.layer_],
        DirectionMeta(
            kind="harmfulness",
            layer=guard.layer_,
            position="inst",
            n_harmful=len(acts.harm_texts),
            n_harmless=len(acts.safe_texts),
            **common,
        ),
    ).save(out_dir / "harmfulness")


def post_auroc(harm_post: Any, safe_post: Any, val_post: Any, val_y: Any) -> list[PostAuroc]:
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
            rows.append(PostAuroc(layer=layer, position=p - n_post, auroc=auroc(val_y, score)))
    return rows


def guard_metrics(guard: LatentGuard, inst: Any, labels: Any) -> GuardEval:
    """AUROC at the guard's layer and at every layer, plus threshold metrics, on labelled acts.

    Raises:
        DataError: The labels are all one class.
    """
    y = np.asarray(labels).astype(bool)
    if y.all() or not y.any():
        raise DataError("evaluation data needs both safe and unsafe prompts")
    per_layer = [
        LayerAuroc(layer=i, auroc=auroc(y, guard._raw(inst, i))) for i in range(inst.shape[1])
    ]
    pred = guard.predict(inst)
    proba = guard.proba_at_layer(np.asarray(inst)[:, guard.layer_])
    m = binary_metrics([bool(v) for v in y], [bool(v) for v in pred])
    return GuardEval(
        n=m.n,
        auroc=auroc(y, guard.decision_function(inst)),
        layer=guard.layer_,
        accuracy=float((pred == y).mean()),
        precision=m.precision,
        recall=m.recall,
        fpr=float(m.fpr or 0.0),
        mean_proba=MeanProba(unsafe=float(proba[y].mean()), safe=float(proba[~y].mean())),
        per_layer=per_layer,
    )


def evaluate_guard(guard: LatentGuard, inst: Any, labels: Any) -> dict[str, Any]:
    """:func:`guard_metrics` as its JSON dict.

    Raises:
        DataError: The labels are all one class.
    """
    return guard_metrics(guard, inst, labels).model_dump(mode="json")
