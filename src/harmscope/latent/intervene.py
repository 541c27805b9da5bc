"""Interventions along a direction: ablation (hooks or weights) and activation addition.

* Directional ablation projects the unit direction r out of every write to the residual
  stream: each block's input, its attention output and its MLP output
  (``x <- x - (x . r) r``), through hooks.
* Weight orthogonalisation makes the same change permanent: the embedding matrix and the
  output matrices of attention and MLP are multiplied by ``(I - r r^T)`` (tied embeddings are
  untied first, so the unembedding is left alone). It gives the same logits as hook ablation.
* Activation addition adds ``coef * v`` to the residual stream after block ``layer``, at every
  position, or only during the first forward pass (the prompt) when generating.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypedDict, Unpack

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from harmscope.errors import HarmscopeError
from harmscope.latent.hooks import HookSpec, find_layers, hooked, output_tensor, replace_output

__all__ = [
    "AdditionOptions",
    "ablate",
    "ablation_hooks",
    "add_direction",
    "addition_hooks",
    "orthogonalize_weights",
    "untie_embeddings",
]

_ATTN_NAMES = ("self_attn", "attn", "attention", "self_attention")
_MLP_NAMES = ("mlp", "feed_forward", "ffn")
_ATTN_OUT = ("o_proj", "out_proj", "c_proj", "dense", "wo")
_MLP_OUT = ("down_proj", "c_proj", "fc2", "dense_4h_to_h", "w2", "wo")
_POST_NORMS = ("post_feedforward_layernorm", "post_attn_norm", "post_mlp_norm")


def _unit(direction: npt.ArrayLike, like: torch.Tensor) -> torch.Tensor:
    vec = torch.as_tensor(np.asarray(direction, dtype=np.float32))
    norm = vec.norm()
    if vec.ndim != 1 or float(norm) == 0.0:
        raise HarmscopeError("a direction must be a non-zero vector")
    unit: torch.Tensor = (vec / norm).to(device=like.device, dtype=like.dtype)
    return unit


def _project_out(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    r = r.to(dtype=x.dtype, device=x.device)
    out: torch.Tensor = x - (x @ r).unsqueeze(-1) * r
    return out


def _child(block: nn.Module, names: tuple[str, ...], what: str) -> nn.Module:
    for name in names:
        mod = getattr(block, name, None)
        if isinstance(mod, nn.Module):
            return mod
    raise HarmscopeError(f"cannot find the {what} of {type(block).__name__}")


def ablation_hooks(model: nn.Module, direction: npt.ArrayLike) -> list[HookSpec]:
    """Hooks projecting ``direction`` out of every block's input, attention and MLP outputs."""
    blocks = find_layers(model)
    r = _unit(direction, next(model.parameters()))

    def pre(_m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if args:
            return (_project_out(args[0], r), *args[1:]), kwargs
        if "hidden_states" in kwargs:
            return args, {**kwargs, "hidden_states": _project_out(kwargs["hidden_states"], r)}
        raise HarmscopeError("cannot find the hidden states among a block's inputs")

    def post(_m: nn.Module, _args: Any, output: Any) -> Any:
        return replace_output(output, _project_out(output_tensor(output), r))

    specs: list[HookSpec] = []
    for block in blocks:
        specs.append(HookSpec(block, pre, "pre"))
        specs.append(HookSpec(_child(block, _ATTN_NAMES, "attention"), post))
        specs.append(HookSpec(_child(block, _MLP_NAMES, "MLP"), post))
    return specs


@contextmanager
def ablate(model: nn.Module, direction: npt.ArrayLike) -> Iterator[None]:
    """Directional ablation for the duration of the block (hooks removed on exit)."""
    with hooked(ablation_hooks(model, direction)):
        yield


def addition_hooks(
    model: nn.Module,
    vector: npt.ArrayLike,
    *,
    layer: int,
    coef: float = 1.0,
    first_pass_only: bool = False,
) -> list[HookSpec]:
    """A hook adding ``coef * vector`` to the output of block ``layer`` at every position.

    ``vector`` is used as given (a raw diff-in-means keeps its natural scale). With
    ``first_pass_only`` the addition applies to the first forward pass only (the prompt, when
    generating with a cache).
    """
    blocks = find_layers(model)
    if not 0 <= layer < len(blocks):
        raise HarmscopeError(f"layer {layer} out of range 0..{len(blocks) - 1}")
    vec = torch.as_tensor(np.asarray(vector, dtype=np.float32))
    calls = [0]

    def hook(_m: nn.Module, _args: Any, output: Any) -> Any:
        calls[0] += 1
        if first_pass_only and calls[0] > 1:
            return output
        hidden = output_tensor(output)
        return replace_output(output, hidden + coef * vec.to(hidden.dtype))

    return [HookSpec(blocks[layer], hook)]


class AdditionOptions(TypedDict, total=False):
    """Options of an activation addition besides its layer (see :func:`addition_hooks`)."""

    coef: float
    """Multiplier of the vector (default 1)."""
    first_pass_only: bool
    """Add during the first forward pass only (default False)."""


@contextmanager
def add_direction(
    model: nn.Module, vector: npt.ArrayLike, *, layer: int, **options: Unpack[AdditionOptions]
) -> Iterator[None]:
    """Activation addition (:func:`addition_hooks`) for the duration of the block."""
    with hooked(addition_hooks(model, vector, layer=layer, **options)):
        yield


def untie_embeddings(model: Any) -> None:
    """Give the output head its own copy of the embedding matrix, if the two are tied."""
    head = model.get_output_embeddings()
    emb = model.get_input_embeddings()
    if head is not None and head.weight is emb.weight:
        head.weight = nn.Parameter(emb.weight.detach().clone())
    if getattr(model.config, "tie_word_embeddings", False):
        model.config.tie_word_embeddings = False
    text_config = getattr(model.config, "text_config", None)
    if text_config is not None and getattr(text_config, "tie_word_embeddings", False):
        text_config.tie_word_embeddings = False


def _orthogonalize_linear(linear: nn.Module, r: torch.Tensor) -> None:
    weight = getattr(linear, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2 or weight.shape[0] != r.shape[0]:
        raise HarmscopeError(f"{type(linear).__name__} does not write to the residual stream")
    rr = r.to(weight.dtype)
    weight.data -= torch.outer(rr, rr @ weight.data)
    bias = getattr(linear, "bias", None)
    if isinstance(bias, torch.Tensor):
        bias.data -= (bias.data @ rr) * rr


@torch.no_grad()
def orthogonalize_weights(model: Any, direction: npt.ArrayLike) -> None:
    """Remove ``direction`` from every write to the residual stream, in the weights (in place).

    Equivalent to :func:`ablate` for pre-norm blocks (Llama, Qwen2, Gemma, Mistral...).

    Raises:
        HarmscopeError: The architecture normalises block outputs before the residual add
            (then no weight edit is equivalent), or its projections cannot be found.
    """
    blocks = find_layers(model)
    if any(hasattr(blocks[0], name) for name in _POST_NORMS):
        raise HarmscopeError(
            f"{type(blocks[0]).__name__} normalises block outputs; use hook ablation instead"
        )
    untie_embeddings(model)
    emb = model.get_input_embeddings()
    r = _unit(direction, emb.weight).to(torch.float32)
    w = emb.weight.data
    w -= torch.outer(w.float() @ r, r).to(w.dtype)
    for block in blocks:
        attn = _child(block, _ATTN_NAMES, "attention")
        mlp = _child(block, _MLP_NAMES, "MLP")
        _orthogonalize_linear(_child(attn, _ATTN_OUT, "attention output projection"), r)
        _orthogonalize_linear(_child(mlp, _MLP_OUT, "MLP output projection"), r)
