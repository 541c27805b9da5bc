"""Where t_inst and t_post-inst are, read from the model's own chat template.

The template is rendered for two different sentinel instructions; the token ids the two
prompts share at their end are the post-instruction template tokens (``<|im_end|>``, newline,
``<|im_start|>assistant``, newline for ChatML; ``<end_of_turn>``, newline,
``<start_of_turn>model``, newline for Gemma...).
t_inst is the token just before them: the last token of the user's instruction. Positions are
then found from the end of each row's real tokens, so left and right padding both work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from harmscope.chat import has_chat_template, render_chat
from harmscope.errors import HarmscopeError

__all__ = [
    "Encoded",
    "Positions",
    "TemplateLayout",
    "encode_prompts",
    "locate_positions",
    "render_prompt",
    "template_layout",
]

_SENTINELS = ("Name three colours of the rainbow", "What is seven plus five, please")

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class TemplateLayout:
    """The template tokens that follow the user's instruction in a generation prompt."""

    post_ids: tuple[int, ...]
    """Token ids after the instruction, up to the end of the prompt."""
    post_tokens: tuple[str, ...]
    """The same tokens as strings, for display."""

    @property
    def n_post(self) -> int:
        """Number of t_post-inst positions."""
        return len(self.post_ids)


@dataclass(frozen=True, slots=True)
class Positions:
    """Per-row token indices of t_inst and of the t_post-inst positions."""

    inst: IntArray
    """Shape ``(n,)``: index of the instruction's last token."""
    post: IntArray
    """Shape ``(n, n_post)``: indices of the post-instruction template tokens, in order."""


@dataclass(frozen=True, slots=True)
class Encoded:
    """A tokenised batch of chat prompts and its positions."""

    input_ids: Any
    """``torch.LongTensor (n, seq)``."""
    attention_mask: Any
    """``torch.LongTensor (n, seq)``, 1 on real tokens."""
    position_ids: Any
    """``torch.LongTensor (n, seq)``: 0.. over real tokens (pads get 0 or carry the last)."""
    positions: Positions
    """t_inst and t_post-inst per row."""


def render_prompt(tokenizer: Any, text: str, *, system: str | None = None) -> str:
    """The chat-templated generation prompt for one user instruction.

    Raises:
        HarmscopeError: The tokenizer has no chat template.
    """
    if not has_chat_template(tokenizer):
        raise HarmscopeError("the tokenizer has no chat template; t_inst cannot be located")
    messages = [{"role": "user", "content": text}]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    return render_chat(tokenizer, messages)


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def template_layout(tokenizer: Any, *, system: str | None = None) -> TemplateLayout:
    """Find the post-instruction template tokens by diffing two rendered sentinel prompts.

    Raises:
        HarmscopeError: No chat template, or the two renders share no ending.
    """
    a, b = (_ids(tokenizer, render_prompt(tokenizer, s, system=system)) for s in _SENTINELS)
    n = 0
    while n < min(len(a), len(b)) and a[len(a) - 1 - n] == b[len(b) - 1 - n]:
        n += 1
    if n == 0:
        raise HarmscopeError("the chat template adds no tokens after the instruction")
    post = tuple(a[len(a) - n :])
    return TemplateLayout(post_ids=post, post_tokens=tuple(tokenizer.convert_ids_to_tokens(post)))


def locate_positions(attention_mask: Any, n_post: int) -> Positions:
    """t_inst and t_post-inst indices from an attention mask (left or right padded).

    The last real token of each row is the prompt's last token; the ``n_post`` tokens ending
    there are the post-instruction ones and the token before them is t_inst.

    Raises:
        HarmscopeError: A row is too short to hold an instruction and the template tail.
    """
    mask = np.asarray(attention_mask.cpu() if hasattr(attention_mask, "cpu") else attention_mask)
    if mask.ndim != 2:
        raise HarmscopeError("attention mask must have shape (batch, seq)")
    seq = mask.shape[1]
    last = seq - 1 - np.argmax(mask[:, ::-1] != 0, axis=1)
    if np.any(mask.sum(axis=1) < n_post + 1):
        raise HarmscopeError("a prompt is shorter than the chat template's closing tokens")
    inst = (last - n_post).astype(np.int64)
    post = (inst[:, None] + 1 + np.arange(n_post)[None, :]).astype(np.int64)
    return Positions(inst=inst, post=post)


def encode_prompts(
    tokenizer: Any,
    texts: Sequence[str],
    *,
    layout: TemplateLayout | None = None,
    system: str | None = None,
    padding_side: Literal["left", "right"] = "left",
) -> Encoded:
    """Render and tokenise user instructions as generation prompts, and locate positions.

    Raises:
        HarmscopeError: A prompt does not end with the template's post-instruction tokens
            (the instruction merged with the template when tokenised).
    """
    import torch

    layout = layout or template_layout(tokenizer, system=system)
    rows = [_ids(tokenizer, render_prompt(tokenizer, t, system=system)) for t in texts]
    n_post = layout.n_post
    for i, row in enumerate(rows):
        if tuple(row[-n_post:]) != layout.post_ids or len(row) <= n_post:
            raise HarmscopeError(
                f"prompt {i} does not end with the chat template's closing tokens "
                f"{list(layout.post_tokens)}"
            )
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    ids = torch.full((len(rows), width), int(pad), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(width - len(row), width) if padding_side == "left" else slice(0, len(row))
        ids[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    position_ids = (mask.cumsum(dim=1) - 1).clamp(min=0)
    positions = locate_positions(mask, n_post)
    return Encoded(ids, mask, position_ids, positions)


def encoded_batches(
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 8,
    layout: TemplateLayout | None = None,
    system: str | None = None,
    padding_side: Literal["left", "right"] = "left",
) -> Iterator[tuple[list[str], Encoded]]:
    """Consecutive batches of ``texts`` and their :func:`encode_prompts`, in order.

    Raises:
        HarmscopeError: As :func:`encode_prompts`.
    """
    if not texts:
        return
    layout = layout or template_layout(tokenizer, system=system)
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start : start + batch_size])
        enc = encode_prompts(
            tokenizer, chunk, layout=layout, system=system, padding_side=padding_side
        )
        yield chunk, enc
