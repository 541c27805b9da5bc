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
    some = select_refusal_direction(
        model, tok, dim, harm[:2], safe[:2], positions=[-1], layers=[3, 1, 4, 1]
    )
    assert [c.layer for c in some.candidates] == [1, 3], "layer 4 is in the last 20%"
    with pytest.raises(HarmscopeError, match="no layer"):
        select_refusal_direction(model, tok, dim, harm[:1], safe[:1], layers=[4])


def _post_dim():
    """A tiny Llama, two harmful and two harmless prompts, and their t_post-inst diff-in-means."""
    model, tok = make_model("llama", layers=3)
    harm = ["I cannot help with that. Sorry.", "Sorry, I cannot."]
    safe = ["What is the capital of France?", "How do I bake bread?"]
    dim = DiffInMeans().fit(
        capture_activations(model, tok, harm).post, capture_activations(model, tok, safe).post
    )
    return model, tok, harm, safe, dim


def test_selection_skips_a_model_that_does_not_refuse_enough() -> None:
    from harmscope.latent.refusal import RefusalNotMeasurable

    model, tok, harm, safe, dim = _post_dim()
    ids = refusal_token_ids(tok)
    gap = float(refusal_log_odds(next_token_logprobs(model, tok, harm), ids).mean()) - float(
        refusal_log_odds(next_token_logprobs(model, tok, safe), ids).mean()
    )
    with pytest.raises(RefusalNotMeasurable, match="barely refuses") as info:
        select_refusal_direction(model, tok, dim, harm, safe, positions=[-1], min_gap=gap + 0.01)
    assert info.value.gap == pytest.approx(gap, abs=1e-6)
    sel = select_refusal_direction(model, tok, dim, harm, safe, positions=[-1], min_gap=gap - 0.01)
    assert sel.baseline_harmful - sel.baseline_harmless == pytest.approx(gap, abs=1e-6)


def _phrases(tok, texts: list[str]):
    from harmscope.latent.refusal import RefusalPhrases

    ids = tuple(tuple(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)
    return RefusalPhrases(ids, tuple(texts))


def test_phrase_log_odds_by_hand() -> None:
    from harmscope.latent.refusal import phrase_log_odds

    lp = np.log(np.array([[0.1, 0.3], [0.02, 0.03]]))
    lo = phrase_log_odds(lp)
    assert lo[0] == pytest.approx(math.log(0.4 / 0.6))
    assert lo[1] == pytest.approx(math.log(0.05 / 0.95))


def test_one_token_phrases_give_the_first_token_log_odds(tiny) -> None:
    from harmscope.latent.refusal import RefusalPhrases, phrase_log_odds, phrase_logprobs

    model, tok = tiny
    prompts = ["Hi", "Explain how a bicycle works.", "Tell me a joke about owls."]
    ph = RefusalPhrases.first_tokens(tok)
    assert all(len(p) == 1 for p in ph.ids)
    first, lp = phrase_logprobs(model, tok, prompts, ph, batch_size=2)
    want = next_token_logprobs(model, tok, prompts, batch_size=2)
    np.testing.assert_allclose(first, want, atol=1e-5)
    np.testing.assert_allclose(
        phrase_log_odds(lp), refusal_log_odds(want, [p[0] for p in ph.ids]), atol=1e-5
    )


def test_phrase_logprobs_equal_teacher_forced_single_prompts(tiny) -> None:
    import torch

    from harmscope.latent.positions import render_prompt
    from harmscope.latent.refusal import phrase_logprobs

    model, tok = tiny
    prompts = ["Hi", "Explain how a bicycle works, step by step, for a child."]
    ph = _phrases(tok, ["I'm sorry, but I can't", "No"])
    assert len(ph.ids[0]) > 2 and len(ph.ids[1]) < len(ph.ids[0])
    first, lp = phrase_logprobs(model, tok, prompts, ph, batch_size=2)
    assert lp.shape == (2, 2)
    for i, prompt in enumerate(prompts):
        p_ids = tok(render_prompt(tok, prompt), add_special_tokens=False)["input_ids"]
        for j, phrase in enumerate(ph.ids):
            ids = torch.tensor([list(p_ids) + list(phrase)])
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
            steps = range(len(p_ids) - 1, len(p_ids) - 1 + len(phrase))
            want = sum(float(logp[s, t]) for s, t in zip(steps, phrase, strict=True))
            assert lp[i, j] == pytest.approx(want, abs=1e-4)
            if j == 0:
                np.testing.assert_allclose(first[i], logp[len(p_ids) - 1].numpy(), atol=1e-4)


def test_refusal_phrases_must_not_overlap() -> None:
    from harmscope.latent.refusal import RefusalPhrases

    with pytest.raises(HarmscopeError, match="prefix"):
        RefusalPhrases(((1, 2), (1, 2, 3)), ("a", "ab"))
    with pytest.raises(HarmscopeError, match="non-empty"):
        RefusalPhrases(((1,), ()), ("a", ""))
    with pytest.raises(HarmscopeError, match="non-empty"):
        RefusalPhrases((), ())


def test_refusal_openings_counts_the_refusals_own_first_tokens() -> None:
    """The counting rule, on answers written here (no model is involved)."""
    from harmscope.judges.keyword import classify
    from harmscope.latent.refusal import refusal_openings

    _, tok = make_model("qwen2")
    enc = lambda t: tok(t, add_special_tokens=False)["input_ids"]  # noqa: E731
    sorry = "I'm sorry, but I can't assist with that request."
    cannot = "I cannot help with that request, it is unsafe."
    ai = "As an AI language model, "
    answers = [
        enc(sorry),
        enc(sorry + " Ask me something else."),
        enc(sorry + " It could hurt people."),
        enc(cannot),
        enc(cannot + " Please ask something else."),
        enc(ai + "I cannot help with that request."),  # a refusal...
        enc(ai + "here is an overview of the topic."),  # ...but mostly not
        enc(ai + "here are some facts about it."),
        enc("Unfortunately I must decline this request."),  # one refusal only
        enc("Sure, here is how to bake bread."),
        [],
    ]
    assert classify(tok.decode(answers[5]))[0] == "full_refusal"
    assert classify(tok.decode(answers[8]))[0] == "full_refusal"
    ph = refusal_openings(answers, tok, n_tokens=3)
    assert ph is not None
    assert ph.ids == (tuple(enc(sorry)[:3]), tuple(enc(cannot)[:3]))
    assert ph.support == (3, 2)
    assert ph.as_dict() == {"phrases": [tok.decode(h) for h in ph.ids], "support": [3, 2]}
    assert refusal_openings([enc("Sure, here you go."), []], tok) is None


def test_selection_scores_phrases_and_applies_the_filters() -> None:
    from harmscope.latent.refusal import phrase_log_odds, phrase_logprobs

    model, tok, harm, safe, dim = _post_dim()
    ph = _phrases(tok, ["I'm sorry, but", "I cannot"])
    loose = select_refusal_direction(
        model, tok, dim, harm, safe, phrases=ph, positions=[-1], kl_max=1e9, min_induce=-1e9
    )
    assert loose.phrases is ph
    assert loose.filtered and all(c.passed for c in loose.candidates)
    want = float(phrase_log_odds(phrase_logprobs(model, tok, harm, ph)[1]).mean())
    assert loose.baseline_harmful == pytest.approx(want, abs=1e-5)
    strict = select_refusal_direction(
        model, tok, dim, harm, safe, phrases=ph, positions=[-1], kl_max=0.0
    )
    assert not strict.filtered and not any(c.passed for c in strict.candidates)
    assert strict.best.bypass == min(c.bypass for c in strict.candidates)


def test_behaviour_mask_keeps_refused_harmful_and_answered_harmless() -> None:
    from harmscope.latent.refusal import behaviour_mask

    harm = np.array([2.0, -1.0, 0.5, 0.0, 3.0, 1.0])
    safe = np.array([-2.0, 0.3, -0.1, -4.0, -0.2, 0.0])
    kept = behaviour_mask(harm, safe)
    assert kept is not None
    assert kept[0].tolist() == [True, False, True, False, True, True]
    assert kept[1].tolist() == [True, False, True, True, True, False]
    assert behaviour_mask(harm, safe, min_per_class=5) is None
    assert behaviour_mask(np.array([-1.0] * 6), safe) is None
