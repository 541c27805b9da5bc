"""A direction planted in a tiny model's residual stream is found where it was planted."""

from __future__ import annotations

import numpy as np

from harmscope.latent.capture import capture_activations
from harmscope.latent.directions import DiffInMeans
from harmscope.latent.intervene import add_direction
from harmscope.latent.probe import LatentGuard, auroc

from .test_signals import SAFE, UNSAFE
from .tiny import make_model

HELD_OUT_A = ["Explain how a bicycle works.", "What is seven plus five?", "Hi", "Sorry?"]
HELD_OUT_B = ["Tell me about the printing press.", "Name three colours.", "Paris?", "Why?"]


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_planted_direction_is_recovered(family: str) -> None:
    model, tok = make_model(family, layers=4)
    natural = capture_activations(model, tok, UNSAFE + SAFE).inst[:, 1]
    rng = np.random.default_rng(11)
    v = rng.normal(size=32).astype(np.float32)
    # planted at three times the typical residual norm, after block 1, for the "harmful" class only
    v *= 3 * float(np.linalg.norm(natural, axis=1).mean()) / float(np.linalg.norm(v))
    with add_direction(model, v, layer=1):
        harm = capture_activations(model, tok, UNSAFE)
    safe = capture_activations(model, tok, SAFE)  # different prompts: natural noise included
    dim = DiffInMeans().fit(harm.inst, safe.inst)
    assert _cos(dim.direction_[1], v) > 0.95, "recovered at the layer it was planted"
    assert _cos(dim.direction_[0], v) < 0.5, "not visible before block 1"
    guard = LatentGuard(layer=1).fit(harm.inst, safe.inst)
    with add_direction(model, v, layer=1):
        test_pos = capture_activations(model, tok, HELD_OUT_A + HELD_OUT_B).inst
    test_neg = capture_activations(model, tok, HELD_OUT_A + HELD_OUT_B).inst
    x = np.concatenate([test_pos, test_neg])
    y = np.r_[np.ones(len(test_pos)), np.zeros(len(test_neg))]
    assert auroc(y, guard.decision_function(x)) == 1.0, "held-out planted prompts separate"
