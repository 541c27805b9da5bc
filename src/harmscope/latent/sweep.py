"""Alignment / helpfulness trade-off of activation addition over a range of coefficients.

For each coefficient ``c`` the vector ``c * v`` is added after block ``layer`` and two
measures are recorded: *alignment*, the mean refusal log-odds on harmful prompts, and
*helpfulness*, the mean per-token log-probability of the reference answers of an easy
multiple-choice set (``latent/data/mc.jsonl``), with the accuracy of picking the reference
among the choices. Following Wolf et al. (2024), who predict alignment rising linearly and
helpfulness falling quadratically with the steering norm, both measures are fitted with a
linear and a quadratic polynomial in ``c`` by least squares, and both R² are reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from harmscope.datasets import load_json_line, read_lines
from harmscope.errors import DataError
from harmscope.latent.positions import render_prompt

if TYPE_CHECKING:
    from harmscope.latent.refusal import RefusalPhrases

__all__ = [
    "MCItem",
    "PolyFit",
    "SweepPoint",
    "SweepResult",
    "answer_logprobs",
    "fit_poly",
    "load_mc",
    "mc_prompt",
    "sweep_tradeoff",
]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MCItem:
    """One easy multiple-choice question."""

    id: str
    """Stable id."""
    question: str
    """The question."""
    choices: tuple[str, ...]
    """Possible answers."""
    answer: int
    """Index of the reference answer in ``choices``."""


def load_mc(path: str | Path | None = None) -> list[MCItem]:
    """The shipped multiple-choice set, or one in the same JSONL format.

    Raises:
        DataError: A malformed line.
    """
    if path is None:
        text = resources.files("harmscope.latent").joinpath("data/mc.jsonl").read_text("utf-8")
        lines = text.splitlines()
    else:
        lines = read_lines(path)
    items: list[MCItem] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        row = load_json_line(line, f"multiple-choice line {lineno}")
        try:
            item = MCItem(row["id"], row["question"], tuple(row["choices"]), int(row["answer"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"multiple-choice line {lineno}: {exc}") from None
        if not 0 <= item.answer < len(item.choices):
            raise DataError(f"multiple-choice line {lineno}: answer index out of range")
        items.append(item)
    return items


def mc_prompt(item: MCItem) -> str:
    """The user instruction for an item: the question and its options."""
    return f"{item.question} Answer with one of: {', '.join(item.choices)}."


def answer_logprobs(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    answers: Sequence[str],
    *,
    batch_size: int = 8,
) -> F64:
    """Mean per-token log-probability of each answer following its chat-templated prompt."""
    import torch

    pairs: list[tuple[list[int], int]] = []
    for prompt, answer in zip(prompts, answers, strict=True):
        p_ids = tokenizer(render_prompt(tokenizer, prompt), add_special_tokens=False)["input_ids"]
        a_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
        if not a_ids:
            raise DataError(f"empty answer for prompt {prompt[:40]!r}")
        pairs.append((list(p_ids) + list(a_ids), len(a_ids)))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out: list[float] = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        width = max(len(ids) for ids, _ in chunk)
        ids = torch.full((len(chunk), width), int(pad), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, (row, _) in enumerate(chunk):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        logp = torch.log_softmax(logits.float(), dim=-1)
        for i, (row, n_ans) in enumerate(chunk):
            pos = torch.arange(len(row) - n_ans - 1, len(row) - 1)
            tgt = torch.tensor(row[len(row) - n_ans :])
            out.append(float(logp[i, pos, tgt].mean()))
    return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class PolyFit:
    """A least-squares polynomial fit ``y = sum_k coef[k] * x**k``."""

    degree: int
    """1 (linear) or 2 (quadratic)."""
    coef: tuple[float, ...]
    """Coefficients, constant term first."""
    r2: float
    """Coefficient of determination on the fitted points."""


def fit_poly(x: npt.ArrayLike, y: npt.ArrayLike, degree: int) -> PolyFit:
    """Least-squares polynomial of ``degree`` and its R².

    Raises:
        DataError: Fewer points than coefficients.
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(xs) < degree + 1:
        raise DataError(f"a degree-{degree} fit needs at least {degree + 1} points")
    design = np.vander(xs, degree + 1, increasing=True)
    coef, *_ = np.linalg.lstsq(design, ys, rcond=None)
    resid = ys - design @ coef
    ss_tot = float(((ys - ys.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else 1.0
    return PolyFit(degree, tuple(float(c) for c in coef), r2)


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """Measures at one steering coefficient."""

    coef: float
    """Multiplier of the added vector."""
    alignment: float
    """Mean refusal log-odds on the harmful prompts."""
    helpfulness: float
    """Mean per-token log-prob of the reference answers."""
    mc_accuracy: float
    """Share of items whose reference answer is the most likely choice."""


@dataclass(frozen=True, slots=True)
class SweepResult:
    """The sweep and its linear and quadratic fits."""

    layer: int
    """Block after which the vector was added."""
    points: tuple[SweepPoint, ...]
    """One per coefficient."""
    fits: dict[str, dict[str, PolyFit]] = field(default_factory=dict)
    """``{"alignment"|"helpfulness": {"linear"|"quadratic": PolyFit}}``."""


def sweep_tradeoff(
    model: Any,
    tokenizer: Any,
    vector: npt.ArrayLike,
    *,
    layer: int,
    coefs: Sequence[float],
    harmful: Sequence[str],
    mc_items: Sequence[MCItem] | None = None,
    phrases: RefusalPhrases | None = None,
    batch_size: int = 8,
) -> SweepResult:
    """Measure alignment and helpfulness at each coefficient and fit both forms.

    Alignment is the mean refusal score of ``harmful`` (log-odds of ``phrases``, by default
    the first-token set).
    """
    from harmscope.latent.intervene import add_direction
    from harmscope.latent.refusal import RefusalPhrases, refusal_scores

    items = list(mc_items) if mc_items is not None else load_mc()
    phrases = phrases or RefusalPhrases.first_tokens(tokenizer)
    flat_prompts = [mc_prompt(it) for it in items for _ in it.choices]
    flat_answers = [c for it in items for c in it.choices]
    points: list[SweepPoint] = []
    for c in coefs:
        with add_direction(model, vector, layer=layer, coef=float(c)):
            refusal = refusal_scores(model, tokenizer, harmful, phrases, batch_size=batch_size)
            choice_lp = answer_logprobs(
                model, tokenizer, flat_prompts, flat_answers, batch_size=batch_size
            )
        ref, correct, k = [], 0, 0
        for it in items:
            scores = choice_lp[k : k + len(it.choices)]
            ref.append(scores[it.answer])
            correct += int(int(np.argmax(scores)) == it.answer)
            k += len(it.choices)
        points.append(
            SweepPoint(
                float(c),
                float(refusal.mean()),
                float(np.mean(ref)),
                correct / len(items),
            )
        )
    xs = [p.coef for p in points]
    fits = {
        name: {
            "linear": fit_poly(xs, [getattr(p, name) for p in points], 1),
            "quadratic": fit_poly(xs, [getattr(p, name) for p in points], 2),
        }
        for name in ("alignment", "helpfulness")
    }
    return SweepResult(layer=layer, points=tuple(points), fits=fits)
