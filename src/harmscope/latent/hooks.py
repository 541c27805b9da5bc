"""Plain PyTorch forward hooks on decoder blocks, always removed.

Decoder blocks return a tensor (transformers 5.x) or a tuple whose first item is the hidden
state (older releases, many other models). :func:`output_tensor` and :func:`replace_output`
hide that difference from hook functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from harmscope.errors import HarmscopeError

__all__ = [
    "HookSpec",
    "capture_block_outputs",
    "find_layers",
    "hooked",
    "output_tensor",
    "replace_output",
]

_LAYER_PATHS = (
    "model.layers",
    "model.language_model.layers",
    "language_model.model.layers",
    "layers",
    "transformer.h",
    "transformer.layers",
    "transformer.blocks",
    "gpt_neox.layers",
    "model.decoder.layers",
    "decoder.layers",
    "h",
)

HookFn = Callable[..., Any]
"""A hook function: ``fn(module, args, output)`` (forward) or ``fn(module, args, kwargs)`` (pre)."""


@dataclass(frozen=True, slots=True)
class HookSpec:
    """One hook to register on one module."""

    module: nn.Module
    """Where the hook goes."""
    fn: HookFn
    """The hook function."""
    kind: Literal["forward", "pre"] = "forward"
    """``forward``: ``fn(module, args, output)``; ``pre``: ``fn(module, args, kwargs)``."""


def find_layers(model: nn.Module) -> nn.ModuleList:
    """The list of decoder blocks of a causal language model, found by common attribute paths.

    Raises:
        HarmscopeError: No known path leads to a ``ModuleList``.
    """
    for path in _LAYER_PATHS:
        obj: Any = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList) and len(obj) > 0:
            return obj
    raise HarmscopeError(
        f"cannot find the decoder blocks of {type(model).__name__}: tried "
        + ", ".join(_LAYER_PATHS)
    )


def output_tensor(output: Any) -> torch.Tensor:
    """The hidden-state tensor of a block's output (a tensor, or a tuple's first item)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, tuple | list) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise HarmscopeError(f"unexpected block output type {type(output).__name__}")


def replace_output(output: Any, new: torch.Tensor) -> Any:
    """``output`` with its hidden-state tensor replaced by ``new``, keeping its shape of type."""
    if isinstance(output, torch.Tensor):
        return new
    if isinstance(output, tuple):
        return (new, *output[1:])
    if isinstance(output, list):
        return [new, *output[1:]]
    raise HarmscopeError(f"unexpected block output type {type(output).__name__}")


@contextmanager
def hooked(specs: Sequence[HookSpec]) -> Iterator[None]:
    """Register ``specs`` for the duration of the block; every hook is removed on exit.

    Hooks are removed even when the block (or registering a later hook) raises.
    """
    handles: list[torch.utils.hooks.RemovableHandle] = []
    try:
        for spec in specs:
            if spec.kind == "pre":
                handles.append(spec.module.register_forward_pre_hook(spec.fn, with_kwargs=True))
            else:
                handles.append(spec.module.register_forward_hook(spec.fn))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def capture_block_outputs(
    model: nn.Module, layers: Sequence[int] | None = None
) -> Iterator[dict[int, torch.Tensor]]:
    """Record each chosen block's output hidden state (detached) during forward passes.

    Yields:
        A dict ``layer -> tensor (batch, seq, d)``, filled by the latest forward pass.
    """
    blocks = find_layers(model)
    chosen = range(len(blocks)) if layers is None else layers
    store: dict[int, torch.Tensor] = {}

    def make(idx: int) -> HookFn:
        def hook(_module: nn.Module, _args: Any, output: Any) -> None:
            store[idx] = output_tensor(output).detach()

        return hook

    with hooked([HookSpec(blocks[i], make(i)) for i in chosen]):
        yield store
