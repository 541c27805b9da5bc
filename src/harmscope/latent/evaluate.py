"""Evaluating the Latent Guard on labelled prompts: ``harmscope latent eval`` as a function.

The guard evaluated is a fitted folder, the probe shipped for the model, or one fitted on the
fly on another labelled set (its prompts that also appear in the evaluation set left out).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from typing import Any

from harmscope.errors import DataError, HarmscopeError
from harmscope.latent.probe import LatentGuard
from harmscope.latent.prompts import LabelledPrompt
from harmscope.latent.results import EvalResult

__all__ = ["DEFAULT_TRAIN", "evaluate_latent", "fit_guard_on", "labelled_texts"]

log = logging.getLogger(__name__)

DEFAULT_TRAIN = "jailbreakbench"
"""Set a guard is fitted on when none is given and none is shipped for the model."""


def labelled_texts(spec: str, label: str, data_dir: str | None = None) -> list[str]:
    """The texts of the ``label`` (``unsafe`` / ``safe``) prompts of a suite, set or file.

    Raises:
        DataError: The source has no prompt of that label.
    """
    from harmscope.latent.prompts import load_prompts

    texts = [p.text for p in load_prompts(spec, data_dir=data_dir) if p.label == label]
    if not texts:
        raise DataError(f"{spec}: no {label} prompts")
    return texts


def fit_guard_on(
    model: Any,
    tokenizer: Any,
    train: str,
    *,
    exclude: Collection[str] = (),
    seed: int = 0,
    batch_size: int = 8,
    data_dir: str | None = None,
    notify: Callable[[str], None] = log.info,
) -> LatentGuard:
    """A Latent Guard fitted on ``train``'s prompts (75 % fit, 25 % layer choice).

    Raises:
        DataError: ``train`` lacks safe or unsafe prompts once ``exclude`` is left out.
    """
    from harmscope.latent.pipeline import capture_split, fit_guard
    from harmscope.latent.prompts import load_prompts, split_prompts

    items = [p for p in load_prompts(train, data_dir=data_dir) if p.text not in exclude]
    splits = split_prompts(items, fractions=(0.75, 0.25, 0.0), seed=seed)
    n_harm = sum(p.label == "unsafe" for p in splits.train)
    if not n_harm or n_harm == len(splits.train):
        raise DataError(f"{train}: needs both safe and unsafe prompts to fit a guard")
    notify(f"fitting a guard on {train} ({n_harm} unsafe, {len(splits.train) - n_harm} safe)...")
    return fit_guard(capture_split(model, tokenizer, splits, batch_size=batch_size))


def _guard(
    model: Any,
    tokenizer: Any,
    model_id: str,
    items: Sequence[LabelledPrompt],
    *,
    guard: str | None,
    train: str | None,
    **fit_args: Any,
) -> tuple[LatentGuard, str]:
    """The guard to evaluate and what it is (its folder, or the set it was fitted on).

    ``fit_args`` go to :func:`fit_guard_on` when a guard is fitted first.
    """
    from harmscope.latent.signals import find_probe, load_probe

    shipped = find_probe(model_id) if guard is None and train is None else None
    if guard is None and shipped is None:
        train = train or DEFAULT_TRAIN
        exclude = {p.text for p in items}
        return fit_guard_on(model, tokenizer, train, exclude=exclude, **fit_args), train
    folder = guard if guard is not None else str(shipped)
    fitted = load_probe(folder)
    if fitted.meta.model_id and fitted.meta.model_id != model_id:
        raise HarmscopeError(
            f"the guard in {folder} was fitted on {fitted.meta.model_id}, not {model_id}"
        )
    return fitted.guard, folder


def evaluate_latent(
    model: Any,
    tokenizer: Any,
    *,
    model_id: str,
    data: str,
    guard: str | None = None,
    train: str | None = None,
    seed: int = 0,
    system_prompt: str | None = None,
    batch_size: int = 8,
    data_dir: str | None = None,
    notify: Callable[[str], None] = log.info,
) -> EvalResult:
    """AUROC of the Latent Guard on the labelled prompts of ``data``, at its layer and per layer.

    Args:
        model: The causal LM.
        tokenizer: Its tokenizer.
        model_id: The model's id (a guard fitted on another model is refused).
        data: Labelled-prompt file, suite or public set.
        guard: Folder of a fitted guard; default: the probe shipped for the model, if any.
        train: Fit a guard on this set first (default without a shipped probe:
            :data:`DEFAULT_TRAIN`).
        seed: Seed of the fitting split.
        system_prompt: Render every prompt under this system prompt.
        batch_size: Prompts per forward pass.
        data_dir: Folder of public datasets.
        notify: Told when a guard is fitted first, and on what.

    Raises:
        HarmscopeError: The guard was fitted on another model.
        DataError: The data lacks safe or unsafe prompts.
    """
    from harmscope.latent.capture import capture_activations
    from harmscope.latent.pipeline import guard_metrics
    from harmscope.latent.prompts import load_prompts

    items = load_prompts(data, data_dir=data_dir)
    probe, fitted_on = _guard(
        model,
        tokenizer,
        model_id,
        items,
        guard=guard,
        train=train,
        seed=seed,
        batch_size=batch_size,
        data_dir=data_dir,
        notify=notify,
    )
    texts = [p.text for p in items]
    acts = capture_activations(model, tokenizer, texts, batch_size=batch_size, system=system_prompt)
    metrics = guard_metrics(probe, acts.inst, [p.label == "unsafe" for p in items])
    return EvalResult(
        model_id=model_id,
        data=data,
        guard=fitted_on,
        system_prompt=system_prompt,
        **metrics.model_dump(),
    )
