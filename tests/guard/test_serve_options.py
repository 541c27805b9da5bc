"""``serve`` hands listen options to uvicorn and the rest to the app."""

from __future__ import annotations

from typing import Any

import pytest

from harmscope.guard import ANY, Guard
from harmscope.guard.app import DEFAULT_MAX_HEADER_BYTES, serve


class Calm:
    name = "calm"

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        return [{ANY: 0.0} for _ in texts]


def test_serve_splits_listen_options_from_app_options(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}

    class FakeServer:
        def __init__(self, config: Any) -> None:
            seen["config"] = config

        def run(self) -> None:
            seen["ran"] = True

    monkeypatch.setattr(uvicorn, "Server", FakeServer)
    serve(Guard([Calm()]), threads=None, port=9123, max_body_bytes=123, warmup=False)
    config = seen["config"]
    assert seen["ran"] and config.port == 9123 and config.host == "127.0.0.1"
    assert config.h11_max_incomplete_event_size == DEFAULT_MAX_HEADER_BYTES
    assert config.limit_concurrency == 1024
    assert config.app.state.guard.name == "harmscope-guard/calm"
