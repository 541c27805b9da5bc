from __future__ import annotations

from typing import Any

import pytest

from .tiny import FAMILIES, make_model

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def tiny(family: str) -> tuple[Any, Any]:
    return make_model(family)


@pytest.fixture(scope="session")
def smollm2() -> Any:
    """The embedded default model (SmolLM2-135M-Instruct), loaded once."""
    try:
        from harmscope.targets.models import load_model
    except ImportError:
        pytest.skip("harmscope.targets.models not available")
    from harmscope.errors import TargetError

    try:
        return load_model("default")
    except TargetError as exc:
        pytest.skip(f"default model not available: {exc}")
