"""Latent Guard: a harmfulness probe on the residual stream at t_inst.

The score of a prompt is its projection onto the diff-in-means direction at the chosen layer
(or the cosine difference to the harmful and harmless centroids). The layer is picked by AUROC
on a validation split, the threshold there too (Youden's J), and a one-feature logistic
calibration turns the projection into a probability in [0, 1].
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harmscope.errors import DataError, HarmscopeError
from harmscope.latent.directions import DiffInMeans
from harmscope.metrics.ranking import auroc

__all__ = [
    "GUARD_SCHEMA_VERSION",
    "GuardMeta",
    "LatentGuard",
    "LayerScore",
    "auroc",
    "best_threshold",
]

GUARD_SCHEMA_VERSION = 1
"""Bumped when the saved format changes."""

Method = Literal["projection", "cosine"]
F64 = npt.NDArray[np.float64]


def best_threshold(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """The threshold maximising Youden's J (TPR − FPR); ``score >= t`` means positive."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    uniq = np.unique(s)
    cands = np.concatenate([[uniq[0] - 1.0], (uniq[:-1] + uniq[1:]) / 2.0, [uniq[-1] + 1.0]])
    best_t, best_j = float(cands[0]), -math.inf
    for t in cands:
        pred = s >= t
        j = pred[y].mean() - pred[~y].mean()
        if j > best_j + 1e-12:
            best_t, best_j = float(t), float(j)
    return best_t


def _fit_logistic(x: F64, y: F64, *, l2: float = 1e-2, iters: int = 100) -> tuple[float, float]:
    """Newton's method for ``p = sigmoid(a * z + b)`` on standardised ``z``; returns (a, b) on x."""
    mu, sd = float(x.mean()), float(x.std()) or 1.0
    z = (x - mu) / sd
    a, b = 0.0, 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(a * z + b)))
        w = p * (1 - p)
        g = np.array([np.sum((p - y) * z) + l2 * a, np.sum(p - y)])
        h = np.array([[np.sum(w * z * z) + l2, np.sum(w * z)], [np.sum(w * z), np.sum(w) + 1e-9]])
        step = np.linalg.solve(h, g)
        a, b = a - float(step[0]), b - float(step[1])
        if float(np.abs(step).max()) < 1e-10:
            break
    return a / sd, b - a * mu / sd


@dataclass(frozen=True, slots=True)
class LayerScore:
    """Separation of harmful from harmless prompts at one layer."""

    layer: int
    """Decoder block."""
    auroc: float
    """AUROC on the split the layer is chosen on."""


class GuardMeta(BaseModel):
    """What a saved Latent Guard was fitted on, and its fitted scalars."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = GUARD_SCHEMA_VERSION
    """Format version."""
    model_id: str = ""
    """Model whose activations the probe reads."""
    position: Literal["inst"] = "inst"
    """Token position read (t_inst)."""
    method: Method = "projection"
    """Score: projection on the direction, or cosine difference to the centroids."""
    layer: int = Field(ge=0)
    """Chosen decoder block."""
    threshold: float
    """Decision threshold on the raw score."""
    calib_a: float
    """Calibration slope: ``p = sigmoid(a * score + b)``."""
    calib_b: float
    """Calibration intercept."""
    per_layer: list[dict[str, float]] = Field(default_factory=list)
    """``{"layer", "auroc"}`` per layer, on the selection split."""
    data_hash: str = ""
    """Hash of the fitting prompts."""
    seed: int = 0
    """Seed of the data split."""


class LatentGuard:
    """Harmfulness probe on t_inst activations, sklearn style.

    Args:
        layer: Fixed layer, or ``None`` to pick the best on the validation split.
        method: ``projection`` or ``cosine``.

    Attributes:
        dim_: The fitted :class:`DiffInMeans` over ``(layers, d)``.
        layer_: The layer used.
        per_layer_: :class:`LayerScore` for every layer.
        threshold_: Threshold on :meth:`decision_function`.
        calib_: ``(a, b)`` of the logistic calibration.
    """

    dim_: DiffInMeans
    layer_: int
    per_layer_: list[LayerScore]
    threshold_: float
    calib_: tuple[float, float]

    def __init__(self, *, layer: int | None = None, method: Method = "projection") -> None:
        self.layer = layer
        self.method = method
        self._encoder: Any = None

    def _raw(self, acts: npt.ArrayLike, layer: int) -> F64:
        return self._raw_at(np.asarray(acts, dtype=np.float64)[:, layer, :], layer)

    def _raw_at(self, x: F64, layer: int) -> F64:
        """Raw scores of activations ``(n, d)`` read at ``layer``."""
        if self.method == "cosine":
            mu_h = self.dim_.harmful_mean_[layer].astype(np.float64)
            mu_b = self.dim_.harmless_mean_[layer].astype(np.float64)
            xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
            return np.asarray(
                xn @ (mu_h / np.linalg.norm(mu_h)) - xn @ (mu_b / np.linalg.norm(mu_b))
            )
        return np.asarray(x @ self.dim_.unit(layer).astype(np.float64))

    def fit(
        self,
        harmful: npt.ArrayLike,
        harmless: npt.ArrayLike,
        *,
        val: npt.ArrayLike | None = None,
        val_labels: npt.ArrayLike | None = None,
    ) -> Self:
        """Fit on t_inst activations ``(n, layers, d)``; layer, threshold, calibration on val.

        Without a validation split they are chosen on the training data (optimistic).
        """
        pos, neg = np.asarray(harmful), np.asarray(harmless)
        self.dim_ = DiffInMeans().fit(pos, neg)
        if val is None or val_labels is None:
            sel_x = np.concatenate([pos, neg])
            sel_y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        else:
            sel_x, sel_y = np.asarray(val), np.asarray(val_labels, dtype=np.float64)
        n_layers = pos.shape[1]
        self.per_layer_ = [
            LayerScore(i, auroc(sel_y, self._raw(sel_x, i))) for i in range(n_layers)
        ]
        if self.layer is not None:
            if not 0 <= self.layer < n_layers:
                raise HarmscopeError(f"layer {self.layer} out of range 0..{n_layers - 1}")
            self.layer_ = self.layer
        else:
            self.layer_ = max(self.per_layer_, key=lambda s: (s.auroc, -s.layer)).layer
        raw = self._raw(sel_x, self.layer_)
        self.threshold_ = best_threshold(sel_y, raw)
        self.calib_ = _fit_logistic(raw, sel_y.astype(np.float64))
        return self

    def decision_function(self, acts: npt.ArrayLike) -> F64:
        """Raw score at the chosen layer (higher = more harmful)."""
        return self._raw(acts, self.layer_)

    def predict_proba(self, acts: npt.ArrayLike) -> F64:
        """Calibrated probability of harmfulness, in [0, 1]."""
        a, b = self.calib_
        return np.asarray(1.0 / (1.0 + np.exp(-(a * self.decision_function(acts) + b))))

    @property
    def proba_threshold(self) -> float:
        """The calibrated probability at :attr:`threshold_`: the probe's operating point."""
        a, b = self.calib_
        return float(1.0 / (1.0 + math.exp(-(a * self.threshold_ + b))))

    def proba_at_layer(self, x: npt.ArrayLike) -> F64:
        """:meth:`predict_proba` from activations ``(n, d)`` at the chosen layer only."""
        a, b = self.calib_
        raw = self._raw_at(np.asarray(x, dtype=np.float64), self.layer_)
        return np.asarray(1.0 / (1.0 + np.exp(-(a * raw + b))))

    def predict(self, acts: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """True where the raw score reaches the threshold."""
        return np.asarray(self.decision_function(acts) >= self.threshold_)

    def bind(self, model: Any, tokenizer: Any, *, batch_size: int = 8) -> Self:
        """Attach the model that :meth:`score` reads activations from."""
        self._encoder = (model, tokenizer, batch_size)
        return self

    def score(self, texts: Sequence[str]) -> F64:
        """Harm probability of each user prompt, in [0, 1] (needs :meth:`bind`).

        One prefill per batch, stopped after the chosen layer: the blocks above it and the
        output head are not run.

        Raises:
            HarmscopeError: No model bound.
        """
        if self._encoder is None:
            raise HarmscopeError("bind a model first: guard.bind(model, tokenizer)")
        from harmscope.latent.capture import layer_inputs

        model, tokenizer, batch_size = self._encoder
        if not texts:
            return np.zeros(0, dtype=np.float64)
        x = layer_inputs(model, tokenizer, texts, layer=self.layer_, batch_size=batch_size)
        return self.proba_at_layer(x)

    def save(
        self, folder: str | Path, *, model_id: str = "", data_hash: str = "", seed: int = 0
    ) -> Path:
        """Write ``guard.npz`` (centroids) and ``guard.json`` (:class:`GuardMeta`)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(
            out / "guard.npz",
            harmful_mean=self.dim_.harmful_mean_,
            harmless_mean=self.dim_.harmless_mean_,
            direction=self.dim_.direction_,
            counts=np.array([self.dim_.n_harmful_, self.dim_.n_harmless_]),
        )
        meta = GuardMeta(
            model_id=model_id,
            method=self.method,
            layer=self.layer_,
            threshold=self.threshold_,
            calib_a=self.calib_[0],
            calib_b=self.calib_[1],
            per_layer=[{"layer": s.layer, "auroc": s.auroc} for s in self.per_layer_],
            data_hash=data_hash,
            seed=seed,
        )
        (out / "guard.json").write_text(meta.model_dump_json(indent=2) + "\n")
        return out

    @classmethod
    def load(cls, folder: str | Path) -> tuple[LatentGuard, GuardMeta]:
        """Read a folder written by :meth:`save`.

        Raises:
            DataError: Missing or malformed files.
        """
        src = Path(folder)
        try:
            raw = json.loads((src / "guard.json").read_text(encoding="utf-8"))
            meta = GuardMeta.model_validate(raw)
            with np.load(src / "guard.npz") as data:
                h, b, d = data["harmful_mean"], data["harmless_mean"], data["direction"]
                counts = data["counts"]
        except (OSError, KeyError, ValueError, ValidationError) as exc:
            raise DataError(f"{src}: not a saved Latent Guard ({exc})") from None
        guard = cls(layer=meta.layer, method=meta.method)
        dim = DiffInMeans()
        dim.harmful_mean_, dim.harmless_mean_ = h.astype(np.float32), b.astype(np.float32)
        dim.direction_ = d.astype(np.float32)
        dim.n_harmful_, dim.n_harmless_ = int(counts[0]), int(counts[1])
        guard.dim_, guard.layer_, guard.threshold_ = dim, meta.layer, meta.threshold
        guard.calib_ = (meta.calib_a, meta.calib_b)
        guard.per_layer_ = [LayerScore(int(d["layer"]), d["auroc"]) for d in meta.per_layer]
        return guard, meta
