from __future__ import annotations

import numpy as np
import pytest

from harmscope.errors import DataError
from harmscope.latent.sweep import answer_logprobs, fit_poly, load_mc, mc_prompt, sweep_tradeoff

from .tiny import make_model


def test_fit_poly_by_hand() -> None:
    x = [-1.0, 0.0, 1.0]
    y = [1.0, 0.0, 1.0]
    lin = fit_poly(x, y, 1)
    # best line is y = 2/3; residuals 1/3, -2/3, 1/3 -> R² = 0
    assert lin.coef == pytest.approx((2 / 3, 0.0), abs=1e-12)
    assert lin.r2 == pytest.approx(0.0, abs=1e-12)
    quad = fit_poly(x, y, 2)
    assert quad.coef == pytest.approx((0.0, 0.0, 1.0), abs=1e-12)
    assert quad.r2 == pytest.approx(1.0)


def test_fit_poly_linear_data() -> None:
    x = np.arange(5.0)
    fit = fit_poly(x, 3 - 2 * x, 1)
    assert fit.coef == pytest.approx((3.0, -2.0)) and fit.r2 == pytest.approx(1.0)
    with pytest.raises(DataError):
        fit_poly([1.0, 2.0], [1.0, 2.0], 2)


def test_shipped_mc_set() -> None:
    items = load_mc()
    assert len(items) >= 20
    assert len({it.id for it in items}) == len(items)
    for it in items:
        assert 0 <= it.answer < len(it.choices) and len(it.choices) >= 2
        assert it.question in mc_prompt(it)


def test_load_mc_rejects_bad_answer(tmp_path) -> None:
    f = tmp_path / "mc.jsonl"
    f.write_text('{"id": "a", "question": "q", "choices": ["x"], "answer": 3}\n')
    with pytest.raises(DataError, match="out of range"):
        load_mc(f)


def test_answer_logprobs_by_hand() -> None:
    import torch

    from harmscope.latent.positions import render_prompt

    model, tok = make_model("gemma")
    got = answer_logprobs(model, tok, ["Hi", "What is two plus three?"], ["Paris", "Five"])
    p_ids = tok(render_prompt(tok, "What is two plus three?"), add_special_tokens=False)[
        "input_ids"
    ]
    a_ids = tok("Five", add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p_ids + a_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0], -1)
    want = np.mean([float(logp[len(p_ids) - 1 + k, a]) for k, a in enumerate(a_ids)])
    assert got[1] == pytest.approx(want, abs=1e-4)


def test_sweep_on_tiny_model() -> None:
    model, tok = make_model("qwen2")
    items = load_mc()[:4]
    v = np.random.default_rng(0).normal(size=32)
    res = sweep_tradeoff(
        model, tok, v, layer=1, coefs=[0.0, 1.0, 2.0, 3.0], harmful=["Hi", "Sorry"], mc_items=items
    )
    assert [p.coef for p in res.points] == [0.0, 1.0, 2.0, 3.0]
    assert set(res.fits) == {"alignment", "helpfulness"}
    for fits in res.fits.values():
        assert fits["quadratic"].r2 >= fits["linear"].r2 - 1e-9  # nested models
    assert all(0.0 <= p.mc_accuracy <= 1.0 for p in res.points)
    # coefficient 0 is the unsteered model
    base = answer_logprobs(
        model, tok, [mc_prompt(it) for it in items], [it.choices[it.answer] for it in items]
    )
    assert res.points[0].helpfulness == pytest.approx(float(base.mean()), abs=1e-5)
    # ... and its alignment is the unsteered mean refusal score (first tokens by default)
    from harmscope.latent.refusal import RefusalPhrases, refusal_scores

    first = refusal_scores(model, tok, ["Hi", "Sorry"], RefusalPhrases.first_tokens(tok))
    assert res.points[0].alignment == pytest.approx(float(first.mean()), abs=1e-5)
    phrase = RefusalPhrases(((tok("Sorry", add_special_tokens=False)["input_ids"][0], 5),), ("x",))
    res2 = sweep_tradeoff(
        model,
        tok,
        v,
        layer=1,
        coefs=[0.0, 1.0, 2.0],
        harmful=["Hi", "Sorry"],
        mc_items=items,
        phrases=phrase,
    )
    want = refusal_scores(model, tok, ["Hi", "Sorry"], phrase)
    assert res2.points[0].alignment == pytest.approx(float(want.mean()), abs=1e-5)
    assert res2.points[0].alignment != pytest.approx(res.points[0].alignment)
