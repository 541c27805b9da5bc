from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from harmscope.errors import HarmscopeError
from harmscope.latent.capture import forward_batch
from harmscope.latent.hooks import capture_block_outputs
from harmscope.latent.intervene import (
    ablate,
    add_direction,
    orthogonalize_weights,
    untie_embeddings,
)
from harmscope.latent.positions import encode_prompts

from .tiny import make_model

PROMPTS = ["Explain how a bicycle works.", "Hi", "Write a poem about the sea."]


def _hook_count(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.mark.parametrize("tied", [True, False])
def test_orthogonalisation_equals_hook_ablation(family: str, tied: bool) -> None:
    model, tok = make_model(family, tied=tied)
    enc = encode_prompts(tok, PROMPTS)
    mask = enc.attention_mask.bool()
    r = np.random.default_rng(3).normal(size=32)
    head_before = model.get_output_embeddings().weight.detach().clone()
    base = forward_batch(model, enc).logits
    with ablate(model, r):
        hooked_logits = forward_batch(model, enc).logits
    assert (hooked_logits - base)[mask].abs().max() > 1e-2, "ablation changes the logits"
    edited = copy.deepcopy(model)
    orthogonalize_weights(edited, r)
    weight_logits = forward_batch(edited, enc).logits
    torch.testing.assert_close(weight_logits[mask], hooked_logits[mask], atol=1e-4, rtol=1e-4)
    # the unembedding is untouched, even when it was tied to the embedding
    torch.testing.assert_close(edited.get_output_embeddings().weight, head_before)
    assert edited.get_output_embeddings().weight is not edited.get_input_embeddings().weight
    # the original model is unchanged after the hooks are gone
    torch.testing.assert_close(forward_batch(model, enc).logits, base)


def test_ablation_removes_the_component_everywhere(tiny) -> None:
    model, tok = tiny
    enc = encode_prompts(tok, PROMPTS)
    r = np.random.default_rng(0).normal(size=32)
    unit = torch.tensor(r / np.linalg.norm(r), dtype=torch.float32)
    before = _hook_count(model)
    with ablate(model, r), capture_block_outputs(model) as store:
        forward_batch(model, enc)
    assert _hook_count(model) == before
    for layer, out in store.items():
        assert (out @ unit).abs().max() < 1e-4, f"component left at layer {layer}"


def test_activation_addition_shifts_by_coef_times_vector(tiny) -> None:
    model, tok = tiny
    enc = encode_prompts(tok, PROMPTS)
    v = np.random.default_rng(1).normal(size=32).astype(np.float32)
    with capture_block_outputs(model, [1]) as base:
        forward_batch(model, enc)
    with add_direction(model, v, layer=1, coef=2.5), capture_block_outputs(model, [1]) as steered:
        forward_batch(model, enc)
    diff = (steered[1] - base[1]).reshape(-1, 32)
    torch.testing.assert_close(diff, torch.tensor(2.5 * v).expand_as(diff), atol=1e-4, rtol=1e-4)


def test_addition_first_pass_only_during_generation() -> None:
    model, tok = make_model("qwen2")
    enc = encode_prompts(tok, ["Hi"])
    v = np.random.default_rng(2).normal(size=32).astype(np.float32) * 50

    def run(first_only: bool) -> list[int]:
        with add_direction(model, v, layer=0, coef=1.0, first_pass_only=first_only):
            out = model.generate(
                input_ids=enc.input_ids,
                attention_mask=enc.attention_mask,
                max_new_tokens=4,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
            )
        return out[0, enc.input_ids.shape[1] :].tolist()

    plain = model.generate(
        input_ids=enc.input_ids,
        attention_mask=enc.attention_mask,
        max_new_tokens=4,
        do_sample=False,
        pad_token_id=tok.pad_token_id,
    )[0, enc.input_ids.shape[1] :].tolist()
    everywhere, first_only = run(False), run(True)
    assert everywhere != plain, "a large addition changes greedy tokens"
    # the first generated token comes from the prompt pass, so both steered runs share it
    assert first_only[0] == everywhere[0]


def test_addition_layer_out_of_range() -> None:
    model, _ = make_model("llama")
    with (
        pytest.raises(HarmscopeError, match="out of range"),
        add_direction(model, np.ones(32), layer=9),
    ):
        pass


def test_zero_direction_rejected() -> None:
    model, _ = make_model("llama")
    with pytest.raises(HarmscopeError, match="non-zero"), ablate(model, np.zeros(32)):
        pass


def test_untie_embeddings_keeps_values() -> None:
    model, _ = make_model("gemma", tied=True)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    untie_embeddings(model)
    assert model.lm_head.weight is not model.model.embed_tokens.weight
    torch.testing.assert_close(model.lm_head.weight, model.model.embed_tokens.weight)
    assert model.config.tie_word_embeddings is False
