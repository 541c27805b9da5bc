from __future__ import annotations

import contextlib
import copy

import numpy as np
import pytest
import torch

from harmscope.errors import HarmscopeError
from harmscope.latent.capture import forward_batch
from harmscope.latent.hooks import (
    HookSpec,
    capture_block_outputs,
    find_layers,
    hooked,
    output_tensor,
)
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


def _prefill_then_decode(model, enc, next_id: int, ctx) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Block-0 outputs of a prefill pass and one cached decode pass, and the decode logits."""
    seen: list[torch.Tensor] = []

    def record(_m, _a, out):  # registered after the addition hook: sees its result
        seen.append(output_tensor(out).detach().clone())

    with ctx, hooked([HookSpec(find_layers(model)[0], record)]), torch.inference_mode():
        first = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, use_cache=True)
        mask = torch.cat([enc.attention_mask, torch.ones_like(enc.attention_mask[:, :1])], 1)
        second = model(
            input_ids=torch.tensor([[next_id]]),
            attention_mask=mask,
            cache=first.cache,
            use_cache=True,
        )
    return seen, second.logits[0, -1]


def test_addition_first_pass_only_during_generation() -> None:
    """With first_pass_only the decode pass is not steered, which only it can show: block 0's
    output there equals the unsteered one (its keys and values come from the embeddings), while
    the addition everywhere shifts it by exactly the vector."""
    model, tok = make_model("qwen2")
    enc = encode_prompts(tok, ["Hi"])
    v = np.random.default_rng(2).normal(size=32).astype(np.float32) * 5
    nxt = int(tok("Sorry", add_special_tokens=False)["input_ids"][0])
    plain, plain_logits = _prefill_then_decode(model, enc, nxt, contextlib.nullcontext())
    every, every_logits = _prefill_then_decode(
        model, enc, nxt, add_direction(model, v, layer=0, first_pass_only=False)
    )
    first, first_logits = _prefill_then_decode(
        model, enc, nxt, add_direction(model, v, layer=0, first_pass_only=True)
    )
    vec = torch.tensor(v)
    assert len(plain) == len(every) == len(first) == 2
    # prefill: both steered runs add the vector at every position
    torch.testing.assert_close(first[0], plain[0] + vec, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(every[0], plain[0] + vec, atol=1e-4, rtol=1e-4)
    # decode: only the "everywhere" run adds it
    torch.testing.assert_close(every[1], plain[1] + vec, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(first[1], plain[1], atol=1e-4, rtol=1e-4)
    # the decode logits differ from both: the cache carries the steered prompt, not the token
    assert (first_logits - every_logits).abs().max() > 1e-2
    assert (first_logits - plain_logits).abs().max() > 1e-2


def test_addition_first_pass_only_keeps_the_first_generated_token() -> None:
    model, tok = make_model("qwen2")
    enc = encode_prompts(tok, ["Hi"])
    v = np.random.default_rng(2).normal(size=32).astype(np.float32) * 50

    def run(ctx) -> list[int]:  # type: ignore[no-untyped-def]
        with ctx:
            out = model.generate(
                input_ids=enc.input_ids,
                attention_mask=enc.attention_mask,
                max_new_tokens=4,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
            )
        return out[0, enc.input_ids.shape[1] :].tolist()

    plain = run(contextlib.nullcontext())
    everywhere = run(add_direction(model, v, layer=0))
    first_only = run(add_direction(model, v, layer=0, first_pass_only=True))
    assert everywhere != plain, "a large addition changes greedy tokens"
    assert first_only[0] == everywhere[0], "the first token comes from the prompt pass"


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


def test_batched_greedy_generation_equals_one_prompt_at_a_time() -> None:
    from harmscope.latent.generate import generate_greedy

    from .tiny import make_model

    model, tok = make_model("llama", layers=2)
    prompts = ["Hi", "How do I bake bread today?", "Tell me a long story about the sea please"]
    batched = generate_greedy(model, tok, prompts, 5, batch_size=3)
    alone = [generate_greedy(model, tok, [p], 5)[0] for p in prompts]
    assert batched == alone and len(batched) == 3


def test_greedy_token_ids_decode_to_the_greedy_answers(tiny) -> None:
    from harmscope.latent.generate import generate_greedy, greedy_token_ids

    model, tok = tiny
    prompts = ["hello", "how are you today"]
    ids = greedy_token_ids(model, tok, prompts, 4, batch_size=2)
    assert len(ids) == 2 and all(len(row) <= 4 for row in ids)
    assert tok.batch_decode(ids, skip_special_tokens=True) == generate_greedy(
        model, tok, prompts, 4
    )
