"""Batched capture of the residual stream at t_inst and every t_post-inst position.

Layer ``l`` means the residual stream after decoder block ``l`` (its output), for every block.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from harmscope.errors import DataError, HarmscopeError
from harmscope.latent.hooks import capture_block_outputs, find_layers
from harmscope.latent.positions import TemplateLayout, encoded_batches, template_layout

__all__ = ["Activations", "capture_activations", "forward_batch", "layer_inputs"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Activations:
    """Residual-stream activations of a list of prompts."""

    inst: FloatArray
    """Shape ``(n, layers, d)``: at t_inst."""
    post: FloatArray
    """Shape ``(n, layers, n_post, d)``: at each t_post-inst position."""
    layout: TemplateLayout
    """The post-instruction template tokens the positions refer to."""

    @property
    def n_layers(self) -> int:
        """Number of decoder blocks captured."""
        return int(self.inst.shape[1])


def forward_batch(model: Any, enc: Any, *, logits_to_keep: int = 0) -> Any:
    """Run the model on an :class:`~harmscope.latent.positions.Encoded` batch (no grad).

    ``logits_to_keep``: compute logits for the last so many positions only (0: all).
    """
    import torch

    extra = {"logits_to_keep": logits_to_keep} if logits_to_keep else {}
    with torch.inference_mode():
        return model(
            input_ids=enc.input_ids,
            attention_mask=enc.attention_mask,
            position_ids=enc.position_ids,
            use_cache=False,
            **extra,
        )


def _body(model: Any) -> Any:
    """The decoder without its output head (no logits are needed), else the model itself."""
    body = getattr(model, "base_model", None)
    if body is None or body is model:
        return model
    try:
        return body if find_layers(body) is find_layers(model) else model
    except HarmscopeError:
        return model


def capture_activations(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 8,
    system: str | None = None,
    padding_side: Literal["left", "right"] = "left",
) -> Activations:
    """Residual stream after every block at t_inst and every t_post-inst position.

    Args:
        model: A transformers causal LM (any module whose decoder blocks
            :func:`~harmscope.latent.hooks.find_layers` finds).
        tokenizer: Its tokenizer, with a chat template.
        texts: User instructions.
        batch_size: Prompts per forward pass.
        system: Optional system message.
        padding_side: How batches are padded; results do not depend on it.
    """
    import torch

    layout = template_layout(tokenizer, system=system)
    n_layers = len(find_layers(model))
    body = _body(model)
    inst_parts: list[FloatArray] = []
    post_parts: list[FloatArray] = []
    batches = encoded_batches(
        tokenizer,
        texts,
        batch_size=batch_size,
        layout=layout,
        system=system,
        padding_side=padding_side,
    )
    for done, (chunk, enc) in enumerate(batches):
        with capture_block_outputs(model) as store:
            forward_batch(body, enc)
        stacked = torch.stack([store[i] for i in range(n_layers)], dim=1)  # (b, L, seq, d)
        rows = torch.arange(len(chunk))
        inst_idx = torch.from_numpy(enc.positions.inst)
        post_idx = torch.from_numpy(enc.positions.post)
        inst = stacked[rows, :, inst_idx, :]  # (b, L, d)
        post = stacked[rows[:, None], :, post_idx, :]  # (b, n_post, L, d)
        inst_parts.append(inst.float().numpy())
        post_parts.append(post.permute(0, 2, 1, 3).float().numpy())
        log.debug("captured %d/%d prompts", done * batch_size + len(chunk), len(texts))
    if not inst_parts:
        raise DataError("no prompts to capture")
    return Activations(
        inst=np.concatenate(inst_parts).astype(np.float32),
        post=np.concatenate(post_parts).astype(np.float32),
        layout=layout,
    )


class _Stop(Exception):
    """Raised by a hook to end a forward pass once the needed layer is read."""


def layer_inputs(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    layer: int,
    batch_size: int = 8,
    system: str | None = None,
) -> FloatArray:
    """Residual stream after block ``layer`` at t_inst, shape ``(n, d)``.

    Each batch's forward pass stops right after block ``layer``; later blocks and the output
    head are never run.
    """
    import torch

    from harmscope.latent.hooks import HookSpec, hooked, output_tensor

    blocks = find_layers(model)
    layout = template_layout(tokenizer, system=system)
    seen: dict[str, Any] = {}

    def hook(_module: Any, _args: Any, output: Any) -> None:
        seen["h"] = output_tensor(output).detach()
        raise _Stop

    parts: list[FloatArray] = []
    batches = encoded_batches(tokenizer, texts, batch_size=batch_size, layout=layout, system=system)
    for chunk, enc in batches:
        with hooked([HookSpec(blocks[layer], hook)]), contextlib.suppress(_Stop):
            forward_batch(_body(model), enc)
        rows = torch.arange(len(chunk))
        inst = seen.pop("h")[rows, torch.from_numpy(enc.positions.inst)]
        parts.append(inst.float().numpy())
    if not parts:
        raise DataError("no prompts to score")
    return np.concatenate(parts).astype(np.float32)
