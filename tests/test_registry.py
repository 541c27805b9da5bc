"""The generic registry: decorator, lazy imports, did-you-mean, entry-point plugins."""

from __future__ import annotations

import importlib.metadata as md
import json

import pytest

from harmscope import registry as registry_module
from harmscope.errors import HarmscopeError, NotFoundError
from harmscope.registry import Registry


def _entry_points(**groups: dict[str, str]):  # type: ignore[no-untyped-def]
    """A stand-in for importlib.metadata.entry_points over the given groups."""

    def select(*, group: str) -> list[md.EntryPoint]:
        return [md.EntryPoint(n, v, group) for n, v in groups.get(group, {}).items()]

    return select


def test_register_lazy_and_did_you_mean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "entry_points", _entry_points())
    reg: Registry[object] = Registry("widget")

    @reg.register("alpha")
    def alpha() -> str:
        return "a"

    reg.add_lazy("dumps", "json:dumps")
    reg.add_lazy("alpha", "json:loads")  # a registered object is not replaced by a lazy one
    assert reg.names() == ["alpha", "dumps"] and "dumps" in reg and "beta" not in reg
    assert reg.get("alpha") is alpha
    assert reg.get("dumps") is json.dumps
    with pytest.raises(NotFoundError, match=r"unknown widget 'alpah'; did you mean alpha\?"):
        reg.get("alpah")
    with pytest.raises(ModuleNotFoundError):  # a broken built-in is a bug: not hidden
        reg.add_lazy("gone", "no_such_module_xyz:f")
        reg.get("gone")


def test_entry_points_are_listed_loaded_and_never_shadow_builtins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = {"json_loads": "json:loads", "alpha": "json:dumps", "bad": "no_such_module_xyz:f"}
    monkeypatch.setattr(
        registry_module, "entry_points", _entry_points(**{"harmscope.widgets": group})
    )
    reg: Registry[object] = Registry("widget")
    reg.add("alpha", "builtin")
    assert reg.names() == ["alpha", "bad", "json_loads"], "plugins are listed"
    assert reg.get("json_loads") is json.loads
    assert reg.get("alpha") == "builtin", "a plugin cannot replace a built-in"
    with pytest.raises(HarmscopeError, match=r"widget plugin 'bad' \(no_such_module_xyz:f\)"):
        reg.get("bad")
