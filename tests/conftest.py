"""Shared test settings: where the public datasets are, and markers for heavy tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("HARMSCOPE_DATA_DIR", str(DEFAULT_DATA_DIR))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_slow = os.environ.get("HARMSCOPE_SLOW") == "1" or "slow" in (config.option.markexpr or "")
    skip_slow = pytest.mark.skip(reason="slow: set HARMSCOPE_SLOW=1 or -m slow")
    skip_remote = pytest.mark.skip(reason="needs a remote API key or a GPU")
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(skip_slow)
        if "api" in item.keywords or "gpu" in item.keywords:
            item.add_marker(skip_remote)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The public datasets folder; tests that need it skip when it is absent."""
    path = Path(os.environ["HARMSCOPE_DATA_DIR"])
    if not path.is_dir():
        pytest.skip(f"public data folder {path} not present")
    return path
