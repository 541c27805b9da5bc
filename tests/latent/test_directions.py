from __future__ import annotations

import json

import numpy as np
import pytest

from harmscope.errors import DataError
from harmscope.latent.directions import DiffInMeans, Direction, DirectionMeta, data_hash


def test_diff_in_means_by_hand() -> None:
    harmful = np.array([[1.0, 2.0], [3.0, 4.0]])
    harmless = np.array([[0.0, 0.0], [2.0, 2.0], [1.0, 4.0]])
    dim = DiffInMeans().fit(harmful, harmless)
    np.testing.assert_allclose(dim.harmful_mean_, [2.0, 3.0])
    np.testing.assert_allclose(dim.harmless_mean_, [1.0, 2.0])
    np.testing.assert_allclose(dim.direction_, [1.0, 1.0])
    assert (dim.n_harmful_, dim.n_harmless_) == (2, 3)
    np.testing.assert_allclose(dim.unit(), [2**-0.5, 2**-0.5], rtol=1e-6)
    # projections onto (1, 1)/sqrt(2)
    np.testing.assert_allclose(dim.transform(harmful), [3 / 2**0.5, 7 / 2**0.5], rtol=1e-6)


def test_diff_in_means_per_layer_and_position() -> None:
    rng = np.random.default_rng(0)
    harmful = rng.normal(size=(4, 3, 2, 5))
    harmless = rng.normal(size=(6, 3, 2, 5))
    dim = DiffInMeans().fit(harmful, harmless)
    assert dim.direction_.shape == (3, 2, 5)
    # layer 2, position 1 by hand
    want = harmful[:, 2, 1].sum(0) / 4 - harmless[:, 2, 1].sum(0) / 6
    np.testing.assert_allclose(dim.direction_[2, 1], want, rtol=1e-5)
    u = dim.unit(2, 1)
    assert abs(np.linalg.norm(u) - 1) < 1e-6
    np.testing.assert_allclose(dim.transform(harmful, 2, 1), harmful[:, 2, 1] @ u, rtol=1e-5)


def test_diff_in_means_errors() -> None:
    with pytest.raises(DataError):
        DiffInMeans().fit(np.zeros((0, 2)), np.zeros((1, 2)))
    with pytest.raises(DataError, match="mismatch"):
        DiffInMeans().fit(np.zeros((1, 2)), np.zeros((1, 3)))


def test_direction_save_load(tmp_path) -> None:
    meta = DirectionMeta(
        kind="refusal",
        model_id="m",
        layer=3,
        position=-2,
        data_hash="ab",
        seed=7,
        scores={"bypass": -1.5},
    )
    vec = np.array([3.0, 4.0], dtype=np.float32)
    Direction(vec, meta).save(tmp_path / "d")
    back = Direction.load(tmp_path / "d")
    np.testing.assert_array_equal(back.vector, vec)
    assert back.meta == meta
    np.testing.assert_allclose(back.unit, [0.6, 0.8])
    raw = json.loads((tmp_path / "d" / "direction.json").read_text())
    assert raw["position"] == -2 and raw["layer"] == 3 and raw["seed"] == 7


def test_direction_load_errors(tmp_path) -> None:
    with pytest.raises(DataError):
        Direction.load(tmp_path)
    (tmp_path / "direction.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(DataError, match="schema version"):
        Direction.load(tmp_path)


def test_data_hash_is_order_sensitive() -> None:
    assert data_hash(["a", "b"]) != data_hash(["b", "a"])
    assert data_hash(["ab"]) != data_hash(["a", "b"])
    assert data_hash(["a", "b"]) == data_hash(["a", "b"])
