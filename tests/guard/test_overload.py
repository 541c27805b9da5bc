"""The guard service under overload and hostile input: admission control, dropped work,
failure isolation, input validation and HTTP edges (real uvicorn servers on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from tests.servers import free_port, run_uvicorn, serve

from harmscope.guard import ANY, Guard
from harmscope.guard.app import create_app, uvicorn_config
from harmscope.guard.engine import MicroBatcher, QueueFull, QueueTimeout

TOKEN = "overload-token"


class SlowDetector:
    """Fixed scores after a fixed delay per call; records every text it was asked to score."""

    name = "slow"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.seen: list[str] = []
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        self.calls += 1
        self.seen.extend(texts)
        self.entered.set()
        self.gate.wait(timeout=30)
        time.sleep(self.delay_s)
        return [{ANY: 0.1} for _ in texts]


def _guard(det: SlowDetector) -> Guard:
    return Guard([det], normalize_text=False)


def _metric(url: str, name: str, headers: dict[str, str] | None = None) -> float:
    text = httpx.get(f"{url}/metrics", headers=headers, timeout=10).text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    return float(lines[name])


@contextmanager
def serve_configured(app: Any, **options: Any) -> Iterator[str]:
    """Run ``app`` with the uvicorn configuration of ``guard serve``."""
    config = uvicorn_config(app, port=free_port(), log_level="warning", **options)
    with run_uvicorn(config) as url:
        yield url


@contextmanager
def _holding(det: SlowDetector, url: str, text: str = "holds the detector") -> Iterator[None]:
    """While the body runs, one moderation request of ``text`` is inside ``det``, held there."""
    det.gate.clear()
    det.entered.clear()
    holder = threading.Thread(
        target=httpx.post,
        args=(f"{url}/v1/moderations",),
        kwargs={"json": {"input": text}, "timeout": 30},
    )
    holder.start()
    assert det.entered.wait(10)
    try:
        yield
    finally:
        det.gate.set()
        holder.join(timeout=30)


# -- the micro-batcher -------------------------------------------------------------------


def test_batcher_isolates_a_failing_item() -> None:
    calls: list[list[str]] = []

    async def fn(items: list[str]) -> list[str]:
        calls.append(items)
        if "bad" in items:
            raise ValueError("cannot score 'bad'")
        return [item.upper() for item in items]

    async def go() -> list[Any]:
        batcher: MicroBatcher[str, str] = MicroBatcher(fn, max_batch=64, max_wait_s=0.05)
        words = [f"w{i}" for i in range(10)]
        words.insert(4, "bad")
        return await asyncio.gather(
            *(batcher.submit_many([w]) for w in words), return_exceptions=True
        )

    results = asyncio.run(go())
    assert isinstance(results[4], ValueError)
    good = [r for i, r in enumerate(results) if i != 4]
    assert good == [[f"W{i}"] for i in range(10)], good
    assert len(calls[0]) == 11, "all shared one batch first"


def test_batcher_queue_full_timeout_and_cancel_drop_work_before_it_runs() -> None:
    seen: list[str] = []
    release = asyncio.Event

    async def go() -> dict[str, int]:
        gate = release()

        async def fn(items: list[str]) -> list[str]:
            seen.extend(items)
            await gate.wait()
            return items

        batcher: MicroBatcher[str, str] = MicroBatcher(
            fn, max_batch=1, max_wait_s=0.0, max_queue=2, queue_timeout_s=0.2
        )
        first = asyncio.ensure_future(batcher.submit_many(["running"]))
        await asyncio.sleep(0.01)  # "running" is in the (blocked) call now
        cancelled = asyncio.ensure_future(batcher.submit_many(["cancelled"]))
        expiring = asyncio.ensure_future(batcher.submit_many(["expires"]))
        await asyncio.sleep(0.01)
        t0 = time.monotonic()
        with pytest.raises(QueueFull):
            await batcher.submit_many(["refused"])
        assert time.monotonic() - t0 < 0.1, "a full queue refuses at once"
        cancelled.cancel()
        await asyncio.sleep(0.01)
        assert batcher.depth == 1
        with pytest.raises(QueueTimeout):
            await asyncio.wait_for(expiring, timeout=5)
        gate.set()
        assert await first == ["running"]
        return dict(batcher.dropped)

    dropped = asyncio.run(go())
    assert seen == ["running"], "nothing ran for refused, cancelled or expired items"
    assert dropped == {"queue_full": 1, "cancelled": 1, "queue_timeout": 1}


# -- admission control and abandoned work over HTTP -----------------------------------------


def test_overload_sheds_fast_with_retry_after_and_nothing_fails() -> None:
    det = SlowDetector(delay_s=0.25)
    app = create_app(_guard(det), max_batch=4, max_queue=8, queue_timeout_s=10, warmup=False)

    async def fire(url: str) -> tuple[list[httpx.Response], list[float], float]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as c:

            async def one(i: int) -> tuple[httpx.Response, float]:
                t0 = time.perf_counter()
                r = await c.post("/v1/moderations", json={"input": f"text {i}"})
                return r, time.perf_counter() - t0

            tasks = [asyncio.ensure_future(one(i)) for i in range(60)]
            await asyncio.sleep(0.3)
            t0 = time.perf_counter()
            health = await c.get("/healthz")
            health_s = time.perf_counter() - t0
            assert health.status_code == 200
            pairs = await asyncio.gather(*tasks)
        return [r for r, _ in pairs], [s for r, s in pairs if r.status_code == 503], health_s

    with serve(app) as url:
        responses, shed_s, health_s = asyncio.run(fire(url))
        shed_metric = _metric(url, 'harmscope_guard_shed_total{reason="queue_full"}')
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 503}, codes
    shed = [r for r in responses if r.status_code == 503]
    assert shed and codes.count(200) >= 8, codes
    for r in shed:
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"]["code"] == "queue_full"
    assert max(shed_s) < 5, "shedding does not wait for the detector"
    assert health_s < 2, "the event loop stays free while the detector computes"
    assert shed_metric == len(shed)
    assert len(det.seen) == codes.count(200), "shed requests were never scored"


def test_disconnected_client_is_never_scored() -> None:
    det = SlowDetector()
    app = create_app(_guard(det), max_wait_s=0.0, warmup=False)

    with serve(app) as url:
        with _holding(det, url):
            with pytest.raises(httpx.ReadTimeout):  # the client gives up and disconnects
                httpx.post(f"{url}/v1/moderations", json={"input": "abandoned"}, timeout=0.5)
            time.sleep(0.3)
        r = httpx.post(f"{url}/v1/moderations", json={"input": "after"}, timeout=30)
        assert r.status_code == 200
        gone = _metric(url, 'harmscope_guard_shed_total{reason="disconnected"}')
    assert det.seen == ["holds the detector", "after"], det.seen
    assert gone == 1
    assert app.state.batcher.dropped["cancelled"] == 1


def test_queue_timeout_is_503_and_not_scored() -> None:
    det = SlowDetector()
    app = create_app(_guard(det), max_wait_s=0.0, queue_timeout_s=0.3, warmup=False)
    with serve(app) as url, _holding(det, url, "first"):
        t0 = time.monotonic()
        r = httpx.post(f"{url}/v1/moderations", json={"input": "late"}, timeout=30)
        waited = time.monotonic() - t0
    assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
    assert r.json()["error"]["code"] == "queue_timeout"
    assert waited < 5, "answered at the deadline, not when the detector frees up"
    assert det.seen == ["first"]


# -- hostile input -------------------------------------------------------------------------


class _Strict:
    """Fails on any text it cannot encode as UTF-8, as a tokenizer does."""

    name = "strict"

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        for t in texts:
            t.encode("utf-8")
        return [{ANY: 0.1} for _ in texts]


def test_lone_surrogate_is_400_alone_while_companions_succeed() -> None:
    app = create_app(Guard([_Strict()]), max_wait_s=0.05, warmup=False)
    bad = b'{"input": "x \\ud800 y"}'

    async def fire(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            jobs = [c.post("/v1/moderations", json={"input": f"normal {i}"}) for i in range(20)]
            jobs.insert(7, c.post("/v1/moderations", content=bad))
            return list(await asyncio.gather(*jobs))

    with serve(app) as url:
        responses = asyncio.run(fire(url))
        ok = httpx.post(f"{url}/v1/moderations", content=b'{"input": "\\ud83d\\ude00 ok"}')
    assert responses[7].status_code == 400, responses[7].text
    assert "surrogate" in responses[7].json()["error"]["message"]
    assert [r.status_code for i, r in enumerate(responses) if i != 7] == [200] * 20
    assert ok.status_code == 200, "an escaped surrogate pair is an ordinary character"


def test_batch_failure_of_one_item_does_not_fail_its_companions() -> None:
    # Below the HTTP validation: even if a bad text reaches the detector, only its caller fails.
    guard = Guard([_Strict()], normalize_text=False)

    async def go() -> list[Any]:
        from harmscope.guard.policy import Decision

        batcher: MicroBatcher[str, Decision] = MicroBatcher(guard.check, max_wait_s=0.05)
        texts = [f"t{i}" for i in range(20)]
        texts.insert(3, "x \ud800 y")
        return await asyncio.gather(
            *(batcher.submit_many([t]) for t in texts), return_exceptions=True
        )

    results = asyncio.run(go())
    assert isinstance(results[3], UnicodeEncodeError)
    assert all(isinstance(r, list) for i, r in enumerate(results) if i != 3)


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_is_400(depth: int) -> None:
    app = create_app(Guard([_Strict()]), warmup=False)
    body = b'{"input": ' + b"[" * depth + b"]" * depth + b"}"
    with serve(app) as url:
        r = httpx.post(f"{url}/v1/moderations", content=body, timeout=30)
        assert httpx.post(f"{url}/v1/moderations", json={"input": "fine"}).status_code == 200
    assert r.status_code == 400, r.text
    assert "nested" in r.json()["error"]["message"]


# -- service edges -------------------------------------------------------------------------


def test_docs_and_schema_need_the_token() -> None:
    guard = Guard([_Strict()])
    with serve(create_app(guard, auth_token=TOKEN, warmup=False)) as url:
        assert httpx.get(f"{url}/openapi.json").status_code == 401
        assert httpx.get(f"{url}/docs").status_code in (401, 404)
        assert httpx.get(f"{url}/redoc").status_code in (401, 404)
        r = httpx.get(f"{url}/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and "/v1/moderations" in r.json()["paths"]
        shed = _metric(
            url,
            'harmscope_guard_shed_total{reason="queue_full"}',
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert shed == 0
    with serve(create_app(guard, warmup=False)) as url:  # without a token the docs are open
        assert httpx.get(f"{url}/docs").status_code == 200
        assert httpx.get(f"{url}/openapi.json").status_code == 200


def test_huge_header_is_431() -> None:
    with serve_configured(create_app(Guard([_Strict()]), warmup=False)) as url:
        r = httpx.get(f"{url}/healthz", headers={"X-Big": "a" * 40_000}, timeout=10)
        assert r.status_code == 431, r.text
        many = {f"X-H{i}": "b" * 100 for i in range(300)}  # many headers, one read or several
        assert httpx.get(f"{url}/healthz", headers=many, timeout=10).status_code == 431
        assert httpx.get(f"{url}/healthz", headers={"X-Ok": "a" * 1000}).status_code == 200


def test_short_body_with_larger_content_length_times_out_promptly() -> None:
    app = create_app(Guard([_Strict()]), body_timeout_s=1.0, warmup=False)
    with serve_configured(app) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            body = json.dumps({"input": "hi"}).encode()
            sock.sendall(
                b"POST /v1/moderations HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n" + body
            )
            t0 = time.monotonic()
            reply = sock.recv(65536)
            waited = time.monotonic() - t0
        assert httpx.post(f"{url}/v1/moderations", json={"input": "fine"}).status_code == 200
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert waited < 5


def test_serve_rejects_bad_capacity_options_in_one_line() -> None:
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "harmscope", "guard", "serve", "--port", str(free_port())]
    p = subprocess.run(
        [*cmd, "--max-queue", "-1"], capture_output=True, text=True, timeout=60, check=False
    )
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "--max-queue" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_chat_proxy_check_under_overload_is_503_not_500() -> None:
    det = SlowDetector()
    app = create_app(
        _guard(det),
        upstream_url="http://127.0.0.1:9/v1",
        max_wait_s=0.0,
        queue_timeout_s=0.3,
        warmup=False,
    )
    chat = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    with serve(app) as url, _holding(det, url, "first"):
        r = httpx.post(f"{url}/v1/chat/completions", json=chat, timeout=30)
    assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
    assert r.json()["error"]["code"] == "queue_timeout"
