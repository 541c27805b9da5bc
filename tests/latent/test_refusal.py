from __future__ import annotations

import math

import numpy as np
import pytest

from harmscope.errors import HarmscopeError
from harmscope.latent.capture import capture_activations
from harmscope.latent.directions import DiffInMeans
from harmscope.latent.refusal import (
    kl_divergence,
    next_token_logprobs,
    refusal_log_odds,
    refusal_token_ids,
    select_refusal_direction,
)

from .tiny import make_model


def test_refusal_log_odds_by_hand() -> None:
    probs = np.array([[0.5, 0.2, 0.2, 0.1], [0.05, 0.9, 0.04, 0.01]])
    lo = refusal_log_odds(np.log(probs), [1, 2])
    assert lo[0] == pytest.approx(math.log(0.4 / 0.6))
    assert lo[1] == pytest.approx(math.log(0.94 / 0.06))


def test_kl_by_hand() -> None:
    p = np.array([[0.5, 0.5]])
    q = np.array([[0.9, 0.1]])
    want = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert kl_divergence(np.log(p), np.log(q))[0] == pytest.approx(want)
    assert kl_divergence(np.log(p), np.log(p))[0] == pytest.approx(0.0)


def test_refusal_token_ids_are_first_tokens() -> None:
    _, tok = make_model("qwen2")
    ids = refusal_token_ids(tok, ["I", "Sorry", "I"])
    assert ids[0] == tok("I", add_special_tokens=False)["input_ids"][0]
    assert ids[1] == tok("Sorry", add_special_tokens=False)["input_ids"][0]
    assert len(ids) == len(set(ids))


def test_next_token_logprobs_match_single_prompt_forward(tiny) -> None:
    import torch

    model, tok = tiny
    prompts = ["Hi", "Explain how a bicycle works."]
    lp = next_token_logprobs(model, tok, prompts, batch_size=2)
    assert lp.shape == (2, len(tok))
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, rtol=1e-5)
    from harmscope.latent.positions import render_prompt

    ids = tok(render_prompt(tok, prompts[1]), add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        ref = torch.log_softmax(model(input_ids=ids["input_ids"]).logits[0, -1], -1).numpy()
    np.testing.assert_allclose(lp[1], ref, atol=1e-4)


def test_select_refusal_direction_on_tiny_model() -> None:
    model, tok = make_model("llama", layers=5)
    harm = ["I cannot help with that. Sorry.", "Sorry, I cannot.", "I cannot. Sorry."]
    safe = ["What is the capital of France?", "How do I bake bread?", "Name three colours."]
    a_h = capture_activations(model, tok, harm)
    a_s = capture_activations(model, tok, safe)
    dim = DiffInMeans().fit(a_h.post, a_s.post)
    sel = select_refusal_direction(model, tok, dim, harm[:2], safe[:2], positions=[-1, -2])
    # 5 layers x 0.8 -> layers 0..3, two positions each
    assert {(c.layer, c.position) for c in sel.candidates} == {
        (layer, p) for layer in range(4) for p in (-1, -2)
    }
    passing = [c for c in sel.candidates if c.passed]
    pool = passing or list(sel.candidates)
    assert sel.best.bypass == min(c.bypass for c in pool)
    assert sel.filtered == bool(passing)
    n_post = a_h.post.shape[2]
    np.testing.assert_array_equal(
        sel.vector, dim.direction_[sel.best.layer, n_post + sel.best.position]
    )
    for c in sel.candidates:
        assert c.kl >= -1e-9 and c.passed == (c.induce > 0 and c.kl < 0.1)
    with pytest.raises(HarmscopeError, match="offsets"):
        select_refusal_direction(model, tok, dim, harm[:1], safe[:1], positions=[-99])


def test_selection_skips_a_model_that_does_not_refuse_enough() -> None:
    from harmscope.latent.refusal import RefusalNotMeasurable

    model, tok = make_model("llama", layers=3)
    harm = ["I cannot help with that. Sorry.", "Sorry, I cannot."]
    safe = ["What is the capital of France?", "How do I bake bread?"]
    dim = DiffInMeans().fit(
        capture_activations(model, tok, harm).post, capture_activations(model, tok, safe).post
    )
    ids = refusal_token_ids(tok)
    gap = float(refusal_log_odds(next_token_logprobs(model, tok, harm), ids).mean()) - float(
        refusal_log_odds(next_token_logprobs(model, tok, safe), ids).mean()
    )
    with pytest.raises(RefusalNotMeasurable, match="barely refuses") as info:
        select_refusal_direction(model, tok, dim, harm, safe, positions=[-1], min_gap=gap + 0.01)
    assert info.value.gap == pytest.approx(gap, abs=1e-6)
    sel = select_refusal_direction(model, tok, dim, harm, safe, positions=[-1], min_gap=gap - 0.01)
    assert sel.baseline_harmful - sel.baseline_harmless == pytest.approx(gap, abs=1e-6)
