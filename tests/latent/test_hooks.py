from __future__ import annotations

import pytest
import torch
from torch import nn

from harmscope.errors import HarmscopeError
from harmscope.latent.hooks import (
    HookSpec,
    capture_block_outputs,
    find_layers,
    hooked,
    output_tensor,
    replace_output,
)

from .tiny import make_model


def _n_hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_find_layers_on_each_family(tiny) -> None:
    model, _ = tiny
    layers = find_layers(model)
    assert len(layers) == model.config.num_hidden_layers, "all decoder blocks found"
    assert layers is model.model.layers


def test_find_layers_gpt2_style_path() -> None:
    class Inner(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.h = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = Inner()

    outer = Outer()
    assert find_layers(outer) is outer.transformer.h


def test_find_layers_unknown_model() -> None:
    with pytest.raises(HarmscopeError, match="decoder blocks"):
        find_layers(nn.Linear(3, 3))


def test_hooks_removed_after_exception_in_body() -> None:
    model, _ = make_model("llama")
    block = find_layers(model)[0]
    before = _n_hooks(model)
    with (
        pytest.raises(RuntimeError, match="boom"),
        hooked(
            [HookSpec(block, lambda m, a, o: None), HookSpec(block, lambda m, a, k: None, "pre")]
        ),
    ):
        assert _n_hooks(model) == before + 2, "hooks registered inside the block"
        raise RuntimeError("boom")
    assert _n_hooks(model) == before, "hooks removed after the exception"


def test_hooks_removed_after_exception_in_hook() -> None:
    model, tok = make_model("qwen2")
    before = _n_hooks(model)

    def bad(_m: nn.Module, _a: object, _o: object) -> None:
        raise ValueError("hook failed")

    ids = tok("Hi there", return_tensors="pt")["input_ids"]
    with (
        pytest.raises(ValueError, match="hook failed"),
        hooked([HookSpec(find_layers(model)[1], bad)]),
    ):
        model(input_ids=ids)
    assert _n_hooks(model) == before, "no hook left behind"
    model(input_ids=ids)  # runs cleanly afterwards


def test_tuple_and_tensor_outputs() -> None:
    t = torch.ones(1, 2, 3)
    assert output_tensor(t) is t
    tup = (t, "extra")
    assert output_tensor(tup) is t
    new = torch.zeros(1, 2, 3)
    replaced = replace_output(tup, new)
    assert isinstance(replaced, tuple) and replaced[0] is new and replaced[1] == "extra"
    assert replace_output(t, new) is new
    with pytest.raises(HarmscopeError):
        output_tensor("not a tensor")


def test_hook_on_tuple_returning_block() -> None:
    class Block(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
            return x * 2, None

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([Block(), Block()])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.layers:
                x = layer(x)[0]
            return x

    model = Model()
    x = torch.ones(1, 1, 2)
    with capture_block_outputs(model) as store:
        out = model(x)
    assert torch.equal(store[0], x * 2) and torch.equal(store[1], x * 4)
    assert torch.equal(out, x * 4)


def test_captured_outputs_match_hidden_states(tiny) -> None:
    model, tok = tiny
    ids = tok("Explain how a bicycle works.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        model(input_ids=ids, output_hidden_states=True)  # transformers may add its own hooks
    before = _n_hooks(model)
    with torch.no_grad(), capture_block_outputs(model) as store:
        ref = model(input_ids=ids, output_hidden_states=True).hidden_states
    n = len(find_layers(model))
    assert sorted(store) == list(range(n))
    # hidden_states[l + 1] is block l's output, except the last one (final norm applied).
    for layer in range(n - 1):
        torch.testing.assert_close(store[layer], ref[layer + 1])
    assert _n_hooks(model) == before, "capture hooks removed"
