"""Greedy generation over chat-templated user prompts, batched with left padding.

The one generation helper of the latent workflows: refusal discovery reads the model's own
answers through it, and steering compares answers with and without an intervention. Hooks
registered on the model apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["generate_greedy", "greedy_token_ids"]


def greedy_token_ids(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int,
    *,
    batch_size: int = 8,
) -> list[list[int]]:
    """Token ids of greedy answers to user prompts, cut at the end-of-sequence token.

    Batched with left padding; hooks registered on the model apply.
    """
    import torch

    from harmscope.latent.positions import encoded_batches

    stops = {t for t in (tokenizer.eos_token_id, tokenizer.pad_token_id) if t is not None}
    out: list[list[int]] = []
    for _, enc in encoded_batches(tokenizer, prompts, batch_size=batch_size):
        with torch.inference_mode():
            ids = model.generate(
                input_ids=enc.input_ids,
                attention_mask=enc.attention_mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        for row in ids[:, enc.input_ids.shape[1] :].tolist():
            cut = next((i for i, t in enumerate(row) if t in stops), len(row))
            out.append([int(t) for t in row[:cut]])
    return out


def generate_greedy(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int,
    *,
    batch_size: int = 8,
) -> list[str]:
    """Greedy answers to user prompts, batched with left padding (hooks on the model apply)."""
    ids = greedy_token_ids(model, tokenizer, prompts, max_new_tokens, batch_size=batch_size)
    return [str(t) for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]
