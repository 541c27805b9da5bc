"""The embedding heads shared by the guard detector and the embedding judge."""

from __future__ import annotations

import numpy as np

from harmscope.embed import ANY, EmbeddingHeads, default_weights_path
from harmscope.guard.detectors import EmbeddingDetector


class _Fixed:
    def encode(self, texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts), 384), dtype=np.float32)


def test_heads_load_the_shipped_weights_and_the_detector_is_the_same_heads() -> None:
    assert default_weights_path().is_file()
    heads = EmbeddingHeads(embedder=_Fixed())
    assert ANY in heads.labels and heads.thresholds
    detector = EmbeddingDetector(embedder=_Fixed())
    assert isinstance(detector, EmbeddingHeads) and detector.name == "embedding"
    vectors = np.zeros((2, 384), dtype=np.float32)
    assert heads.score_embeddings(vectors) == detector.score(["a", "b"])
    assert all(0.0 <= p <= 1.0 for row in heads.score(["a"]) for p in row.values())
