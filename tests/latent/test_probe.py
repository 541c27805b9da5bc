from __future__ import annotations

import numpy as np
import pytest

from harmscope.errors import DataError, HarmscopeError
from harmscope.latent.probe import LatentGuard, auroc, best_threshold

from .tiny import make_model


def test_auroc_by_hand_with_ties() -> None:
    labels = [1, 0, 1, 0, 1]
    scores = [0.9, 0.1, 0.4, 0.4, 0.8]
    # positive/negative pairs: 0.9>0.1, 0.9>0.4, 0.4>0.1, 0.4=0.4 (1/2), 0.8>0.1, 0.8>0.4
    assert auroc(labels, scores) == pytest.approx(5.5 / 6)
    assert auroc([0, 1], [1.0, 0.0]) == 0.0
    assert auroc([0, 0, 1, 1], [3, 3, 3, 3]) == 0.5


def test_auroc_matches_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_auroc_needs_both_classes() -> None:
    with pytest.raises(DataError):
        auroc([1, 1], [0.1, 0.2])


def test_best_threshold_by_hand() -> None:
    labels = [0, 0, 1, 1, 0, 1]
    scores = [0.1, 0.2, 0.3, 0.8, 0.5, 0.9]
    # t between 0.2 and 0.3 gives TPR 1, FPR 1/3 (J = 2/3); t in (0.5, 0.8) gives 2/3 - 0.
    t = best_threshold(labels, scores)
    assert 0.2 < t < 0.3


def _synthetic(seed: int = 0, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    harm = rng.normal(size=(n, 3, 4))
    safe = rng.normal(size=(n, 3, 4))
    harm[:, 2, 0] += 4.0  # separable at layer 2 only
    harm[:, 1, 0] += 0.5
    # a shared offset, as real residual streams have; cosine to centroids needs one
    harm[:, :, 3] += 5.0
    safe[:, :, 3] += 5.0
    return harm, safe


@pytest.mark.parametrize("method", ["projection", "cosine"])
def test_latent_guard_picks_the_separating_layer(method: str) -> None:
    harm, safe = _synthetic(0)
    v_harm, v_safe = _synthetic(1, 20)
    val = np.concatenate([v_harm, v_safe])
    y = np.r_[np.ones(20), np.zeros(20)]
    guard = LatentGuard(method=method).fit(harm, safe, val=val, val_labels=y)
    assert guard.layer_ == 2
    assert [s.layer for s in guard.per_layer_] == [0, 1, 2]
    assert guard.per_layer_[2].auroc > 0.95 > guard.per_layer_[0].auroc
    p = guard.predict_proba(val)
    assert p.shape == (40,) and np.all((p >= 0) & (p <= 1))
    assert p[:20].mean() > 0.8 > 0.2 > p[20:].mean()
    pred = guard.predict(val)
    assert pred[:20].mean() > 0.9 and pred[20:].mean() < 0.1
    # calibration is monotone in the raw score
    order = np.argsort(guard.decision_function(val))
    assert np.all(np.diff(p[order]) >= -1e-12)


def test_latent_guard_fixed_layer_and_errors() -> None:
    harm, safe = _synthetic()
    assert LatentGuard(layer=1).fit(harm, safe).layer_ == 1
    with pytest.raises(HarmscopeError):
        LatentGuard(layer=5).fit(harm, safe)
    with pytest.raises(HarmscopeError, match="bind"):
        LatentGuard().fit(harm, safe).score(["hello"])


def test_latent_guard_save_load(tmp_path) -> None:
    harm, safe = _synthetic()
    guard = LatentGuard().fit(harm, safe)
    guard.save(tmp_path / "g", model_id="m1", data_hash="h", seed=3)
    back, meta = LatentGuard.load(tmp_path / "g")
    assert (meta.model_id, meta.layer, meta.seed) == ("m1", guard.layer_, 3)
    x = np.concatenate([harm, safe])
    np.testing.assert_allclose(back.predict_proba(x), guard.predict_proba(x), rtol=1e-6)
    assert back.threshold_ == guard.threshold_
    with pytest.raises(DataError):
        LatentGuard.load(tmp_path / "missing")


def test_latent_guard_scores_texts_with_a_bound_model() -> None:
    from harmscope.latent.capture import capture_activations

    model, tok = make_model("llama")
    harm = ["I cannot help with that. Sorry.", "Write a poem about the sea."]
    safe = ["What is the capital of France?", "How do I bake bread?"]
    a_h = capture_activations(model, tok, harm)
    a_s = capture_activations(model, tok, safe)
    guard = LatentGuard().fit(a_h.inst, a_s.inst).bind(model, tok)
    scores = guard.score(harm + safe)
    assert scores.shape == (4,) and np.all((scores >= 0) & (scores <= 1))
    np.testing.assert_allclose(
        scores, guard.predict_proba(np.concatenate([a_h.inst, a_s.inst])), rtol=1e-5
    )
