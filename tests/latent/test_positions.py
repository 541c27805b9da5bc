from __future__ import annotations

import numpy as np
import pytest

from harmscope.errors import HarmscopeError
from harmscope.latent.capture import capture_activations
from harmscope.latent.positions import (
    encode_prompts,
    locate_positions,
    render_prompt,
    template_layout,
)

from .tiny import FAMILIES, make_tokenizer

PROMPTS = ["Explain how a bicycle works.", "Hi", "What is the capital of France? Tell me."]


def test_locate_positions_by_hand() -> None:
    mask = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    pos = locate_positions(mask, 2)
    assert pos.inst.tolist() == [3, 1]
    assert pos.post.tolist() == [[4, 5], [2, 3]]


def test_locate_positions_too_short() -> None:
    with pytest.raises(HarmscopeError, match="shorter"):
        locate_positions(np.array([[0, 1, 1]]), 2)


def test_layout_matches_hand_written_closing(family: str) -> None:
    tok = make_tokenizer(family)
    layout = template_layout(tok)
    expected = tok(FAMILIES[family].closing, add_special_tokens=False)["input_ids"]
    assert list(layout.post_ids) == expected, f"{family}: {layout.post_tokens}"
    assert layout.n_post == len(expected)


@pytest.mark.parametrize("side", ["left", "right"])
def test_positions_point_at_instruction_end(family: str, side: str) -> None:
    tok = make_tokenizer(family)
    layout = template_layout(tok)
    enc = encode_prompts(tok, PROMPTS, padding_side=side)
    ids = enc.input_ids.tolist()
    mask = enc.attention_mask.tolist()
    for i, text in enumerate(PROMPTS):
        real = [t for t, m in zip(ids[i], mask[i], strict=True) if m]
        offset = mask[i].index(1)  # first real token
        inst = int(enc.positions.inst[i]) - offset
        rendered = render_prompt(tok, text)
        head = tok.decode(real[: inst + 1])
        assert rendered.startswith(head) and head.endswith(text.strip()), (family, side, head)
        post = [ids[i][p] for p in enc.positions.post[i]]
        assert post == list(layout.post_ids), "post positions hold the closing tokens"
        assert int(enc.positions.post[i][-1]) == offset + len(real) - 1, "last = prompt end"


def test_left_and_right_padding_agree(family: str) -> None:
    tok = make_tokenizer(family)
    left = encode_prompts(tok, PROMPTS, padding_side="left")
    right = encode_prompts(tok, PROMPTS, padding_side="right")
    pad_left = (left.attention_mask == 0).sum(dim=1).numpy()
    assert (left.positions.inst - pad_left).tolist() == right.positions.inst.tolist()
    for i in range(len(PROMPTS)):
        li = left.input_ids[i, left.positions.inst[i]]
        ri = right.input_ids[i, right.positions.inst[i]]
        assert int(li) == int(ri)


def test_system_message_changes_only_the_prefix() -> None:
    tok = make_tokenizer("qwen2")
    base = template_layout(tok)
    with_system = template_layout(tok, system="Be brief.")
    assert base.post_ids == with_system.post_ids
    assert "Be brief." in render_prompt(tok, "Hi", system="Be brief.")


def test_no_chat_template() -> None:
    tok = make_tokenizer("llama")
    saved = tok.chat_template
    tok.chat_template = None
    try:
        with pytest.raises(HarmscopeError, match="chat template"):
            template_layout(tok)
    finally:
        tok.chat_template = saved


def test_capture_shapes_and_padding_invariance(tiny) -> None:
    model, tok = tiny
    n_layers = model.config.num_hidden_layers
    n_post = template_layout(tok).n_post
    left = capture_activations(model, tok, PROMPTS, batch_size=2, padding_side="left")
    right = capture_activations(model, tok, PROMPTS, batch_size=3, padding_side="right")
    single = capture_activations(model, tok, PROMPTS[1:2], batch_size=1)
    assert left.inst.shape == (3, n_layers, 32)
    assert left.post.shape == (3, n_layers, n_post, 32)
    np.testing.assert_allclose(left.inst, right.inst, atol=1e-4)
    np.testing.assert_allclose(left.post, right.post, atol=1e-4)
    np.testing.assert_allclose(left.inst[1], single.inst[0], atol=1e-4)
    # The last post position is the prompt's last token; t_inst is a different token.
    assert not np.allclose(left.inst, left.post[:, :, -1])


def test_encoded_batches_cover_every_prompt_in_order(tiny) -> None:
    from harmscope.latent.positions import encode_prompts, encoded_batches

    _, tok = tiny
    texts = ["a", "bb bb", "ccc", "dd", "e"]
    batches = list(encoded_batches(tok, texts, batch_size=2))
    assert [chunk for chunk, _ in batches] == [["a", "bb bb"], ["ccc", "dd"], ["e"]]
    whole = encode_prompts(tok, texts[2:4])
    assert batches[1][1].input_ids.tolist() == whole.input_ids.tolist()
    assert list(encoded_batches(tok, [], batch_size=2)) == []
