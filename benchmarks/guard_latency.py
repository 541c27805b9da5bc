"""Guard service latency and throughput against the raw classifier.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/guard_latency.py [--requests 300]
        [--concurrency 32] [--load-requests 1000] [--threads N] [--json]

Starts ``harmscope guard``'s app with uvicorn on 127.0.0.1 (a free port, separate process),
then measures with httpx async clients:

1. single-request latency (one request in flight at a time): p50 / p99;
2. throughput under concurrent load (``--concurrency`` clients, ``--load-requests`` in total,
   one text per request), with p50 / p99 under load;
3. the raw limit in this process: one-text forward pass latency and batched (64) texts/s of
   the embedding detector without HTTP.

``--threads`` sets torch's intra-op threads in the server and for the raw measurement alike
(default: torch's own choice, one per core). On a machine shared with other busy processes, one
thread is much faster: a two-thread forward pass waits for whichever thread was descheduled.

Texts are harmscope's own ordinary prompts (``guard/benign_prompts.txt``). Every loop is
bounded in count and time; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from importlib import resources

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def texts() -> list[str]:
    raw = resources.files("harmscope.guard").joinpath("benign_prompts.txt").read_text("utf-8")
    return [line for line in raw.splitlines() if line and not line.startswith("#")]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def serve_forever(port: int, threads: int | None) -> None:
    import uvicorn

    from harmscope.guard import load_guard
    from harmscope.guard.app import create_app

    set_threads(threads)
    guard = load_guard("embedding")
    guard.check_sync(["warm up"])
    uvicorn.run(create_app(guard), host="127.0.0.1", port=port, log_level="warning")


def start_server(port: int, threads: int | None) -> subprocess.Popen[bytes]:
    extra = ["--threads", str(threads)] if threads else []
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), *extra],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("guard server did not start within 120 s")


async def single(url: str, pool: list[str], n: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        for i in range(n):
            t0 = time.perf_counter()
            r = await c.post("/v1/moderations", json={"input": pool[i % len(pool)]})
            r.raise_for_status()
            out.append(time.perf_counter() - t0)
    return out


async def load(url: str, pool: list[str], n: int, conc: int) -> tuple[float, list[float]]:
    lat: list[float] = []
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)

    async def worker(c: httpx.AsyncClient) -> None:
        for i in counter:
            t0 = time.perf_counter()
            r = await c.post("/v1/moderations", json={"input": pool[i % len(pool)]})
            r.raise_for_status()
            lat.append(time.perf_counter() - t0)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker(c) for _ in range(conc))), timeout=300)
        elapsed = time.perf_counter() - t0
    return len(lat) / elapsed, lat


def raw_limits(pool: list[str]) -> dict[str, float]:
    from harmscope.guard import EmbeddingDetector

    det = EmbeddingDetector()
    det.score(pool[:64])  # warm up
    single = []
    for t in pool[:100]:
        t0 = time.perf_counter()
        det.score([t])
        single.append(time.perf_counter() - t0)
    batch = (pool * 4)[:512]
    t0 = time.perf_counter()
    for i in range(0, len(batch), 64):
        det.score(batch[i : i + 64])
    elapsed = time.perf_counter() - t0
    return {
        "single_p50_ms": 1000 * statistics.median(single),
        "single_p99_ms": 1000 * pct(single, 0.99),
        "batched_texts_per_s": len(batch) / elapsed,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--load-requests", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve_forever(args.serve, args.threads)
        return
    set_threads(args.threads)
    pool = texts()
    port = free_port()
    proc = start_server(port, args.threads)
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(single(url, pool, 20))  # warm up
        lat = asyncio.run(single(url, pool, args.requests))
        rps, load_lat = asyncio.run(load(url, pool, args.load_requests, args.concurrency))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    raw = raw_limits(pool)
    result = {
        "server_single_p50_ms": 1000 * statistics.median(lat),
        "server_single_p99_ms": 1000 * pct(lat, 0.99),
        "server_load_rps": rps,
        "server_load_p50_ms": 1000 * statistics.median(load_lat),
        "server_load_p99_ms": 1000 * pct(load_lat, 0.99),
        "concurrency": args.concurrency,
        "threads": args.threads,
        "raw_single_p50_ms": raw["single_p50_ms"],
        "raw_single_p99_ms": raw["single_p99_ms"],
        "raw_batched_texts_per_s": raw["batched_texts_per_s"],
    }
    result["single_latency_ratio"] = result["server_single_p50_ms"] / raw["single_p50_ms"]
    result["throughput_ratio"] = rps / raw["batched_texts_per_s"]
    if args.json:
        print(json.dumps(result))
        return
    print(f"{'':28s}{'server (HTTP)':>16s}{'raw classifier':>18s}{'ratio':>8s}")
    print(
        f"{'single p50 (ms)':28s}{result['server_single_p50_ms']:16.1f}"
        f"{raw['single_p50_ms']:18.1f}{result['single_latency_ratio']:8.2f}"
    )
    print(
        f"{'single p99 (ms)':28s}{result['server_single_p99_ms']:16.1f}"
        f"{raw['single_p99_ms']:18.1f}"
        f"{result['server_single_p99_ms'] / raw['single_p99_ms']:8.2f}"
    )
    print(
        f"{'throughput (texts/s)':28s}{rps:16.1f}{raw['batched_texts_per_s']:18.1f}"
        f"{result['throughput_ratio']:8.2f}"
    )
    print(
        f"{'under load p50/p99 (ms)':28s}"
        f"{result['server_load_p50_ms']:8.1f}/{result['server_load_p99_ms']:.1f}"
        f"   (concurrency {args.concurrency})"
    )


if __name__ == "__main__":
    main()
