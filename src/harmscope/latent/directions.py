"""Difference-in-means directions, and saving a chosen direction with its provenance.

A direction is saved as a folder holding ``direction.npz`` (arrays) and ``direction.json``
(:class:`DirectionMeta`: model id, layer, position, data hash, seed...).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harmscope.errors import DataError, HarmscopeError

__all__ = [
    "DIRECTION_SCHEMA_VERSION",
    "DiffInMeans",
    "Direction",
    "DirectionMeta",
    "Position",
    "data_hash",
]

DIRECTION_SCHEMA_VERSION = 1
"""Bumped when the saved format changes."""

FloatArray = npt.NDArray[np.float32]
Position = int | Literal["inst"]
"""``"inst"`` for t_inst, or a negative offset from the prompt's end (``-1`` = last token)."""


def data_hash(texts: Iterable[str]) -> str:
    """A short, order-sensitive sha256 of the prompts a direction was fitted on."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


class DiffInMeans:
    """mean(harmful) − mean(harmless), for every trailing index (layer, position, ...).

    Attributes:
        harmful_mean_: Mean of the harmful activations, shape ``X.shape[1:]``.
        harmless_mean_: Mean of the harmless activations.
        direction_: ``harmful_mean_ - harmless_mean_``.
        n_harmful_: Number of harmful examples fitted on.
        n_harmless_: Number of harmless examples fitted on.
    """

    harmful_mean_: FloatArray
    harmless_mean_: FloatArray
    direction_: FloatArray
    n_harmful_: int
    n_harmless_: int

    def fit(self, harmful: npt.ArrayLike, harmless: npt.ArrayLike) -> Self:
        """Fit on arrays shaped ``(n, ..., d)``, e.g. ``(n, layers, d)`` or ``(n, L, P, d)``.

        Raises:
            DataError: Empty input or mismatched trailing shapes.
        """
        pos = np.asarray(harmful, dtype=np.float64)
        neg = np.asarray(harmless, dtype=np.float64)
        if pos.shape[0] == 0 or neg.shape[0] == 0:
            raise DataError("diff-in-means needs at least one harmful and one harmless example")
        if pos.shape[1:] != neg.shape[1:]:
            raise DataError(f"shape mismatch: {pos.shape[1:]} vs {neg.shape[1:]}")
        self.harmful_mean_ = pos.mean(axis=0).astype(np.float32)
        self.harmless_mean_ = neg.mean(axis=0).astype(np.float32)
        self.direction_ = (pos.mean(axis=0) - neg.mean(axis=0)).astype(np.float32)
        self.n_harmful_ = int(pos.shape[0])
        self.n_harmless_ = int(neg.shape[0])
        return self

    def unit(self, *index: int) -> FloatArray:
        """The unit-norm direction at ``index`` (e.g. ``unit(layer)`` or ``unit(layer, pos)``)."""
        vec = np.asarray(self.direction_[index], dtype=np.float32)
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            raise HarmscopeError("the direction is zero: the two classes have equal means")
        return (vec / norm).astype(np.float32)

    def transform(self, X: npt.ArrayLike, *index: int) -> npt.NDArray[np.float64]:
        """Projection of ``X[:, *index]`` onto the unit direction at ``index``."""
        arr = np.asarray(X, dtype=np.float64)
        key: tuple[Any, ...] = (slice(None), *index)
        sub = arr[key]
        return np.asarray(sub @ self.unit(*index).astype(np.float64))


class DirectionMeta(BaseModel):
    """Provenance of a saved direction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = DIRECTION_SCHEMA_VERSION
    """Format version of the saved folder."""
    kind: Literal["harmfulness", "refusal", "custom"] = "custom"
    """What the direction is meant to capture."""
    model_id: str
    """Model the activations came from."""
    layer: int = Field(ge=0)
    """Decoder block whose output it was read at."""
    position: Position
    """``"inst"`` or a negative offset from the prompt's end."""
    data_hash: str = ""
    """:func:`data_hash` of the harmful then harmless prompts."""
    seed: int = 0
    """Seed of the data split."""
    n_harmful: int = 0
    """Harmful prompts fitted on."""
    n_harmless: int = 0
    """Harmless prompts fitted on."""
    scores: dict[str, float] = Field(default_factory=dict)
    """Selection scores (bypass, induce, kl...), when selected."""


@dataclass(frozen=True, slots=True)
class Direction:
    """One direction vector (raw diff-in-means, not normalised) with its provenance."""

    vector: FloatArray
    """Shape ``(d,)``."""
    meta: DirectionMeta
    """Where it comes from."""

    @property
    def unit(self) -> FloatArray:
        """The unit-norm vector."""
        return (self.vector / max(float(np.linalg.norm(self.vector)), 1e-12)).astype(np.float32)

    def save(self, folder: str | Path) -> Path:
        """Write ``direction.npz`` and ``direction.json`` into ``folder`` (created)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "direction.npz", vector=self.vector.astype(np.float32))
        (out / "direction.json").write_text(self.meta.model_dump_json(indent=2) + "\n")
        return out

    @classmethod
    def load(cls, folder: str | Path) -> Direction:
        """Read a folder written by :meth:`save`.

        Raises:
            DataError: Missing or malformed files, or another schema version.
        """
        src = Path(folder)
        meta = _read_meta(src / "direction.json")
        try:
            with np.load(src / "direction.npz") as data:
                vector = np.asarray(data["vector"], dtype=np.float32)
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"{src / 'direction.npz'}: unreadable ({exc})") from None
        if vector.ndim != 1:
            raise DataError(f"{src / 'direction.npz'}: vector must be 1-D")
        return cls(vector=vector, meta=meta)


def _read_meta(path: Path) -> DirectionMeta:
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable ({exc})") from None
    if isinstance(raw, dict) and raw.get("schema_version") != DIRECTION_SCHEMA_VERSION:
        raise DataError(f"{path}: schema version {raw.get('schema_version')!r} not supported")
    try:
        return DirectionMeta.model_validate(raw)
    except ValidationError as exc:
        raise DataError(f"{path}: {exc.errors()[0]['msg']}") from None
