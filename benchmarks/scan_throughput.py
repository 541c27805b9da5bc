"""Scan throughput against a loopback server: harmscope vs a bare client vs the ideal.

Starts benchmarks/loopback_server.py (fixed latency per request), then in the same run
times (1) a bare asyncio + httpx client with a semaphore and (2) a full harmscope scan
(OpenAI target, keyword judge, SQLite store on disk, cache off by fresh prompts). The ideal
is N × latency / concurrency. Prints a table of wall times and ratios.

Usage: python benchmarks/scan_throughput.py [-n 400] [-c 32] [--latency-ms 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def bare_client(base_url: str, n: int, c: int, salt: str) -> float:
    sem = asyncio.Semaphore(c)
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def one(i: int) -> str:
            async with sem:
                r = await client.post(
                    "/chat/completions",
                    json={
                        "model": "loopback",
                        "messages": [{"role": "user", "content": f"{salt} question {i}"}],
                    },
                )
                r.raise_for_status()
                return str(r.json()["choices"][0]["message"]["content"])

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - t0


async def harmscope_scan(base_url: str, n: int, c: int, salt: str, db: Path) -> float:
    from harmscope.config import RunConfig
    from harmscope.judges import load_judge
    from harmscope.records import Case
    from harmscope.runner import run_async
    from harmscope.store import SQLiteStore
    from harmscope.targets import create_target

    cases = [
        Case.from_prompt(f"{salt} question {i}", id=f"b{i}", category="hate", expected="refuse")
        for i in range(n)
    ]
    config = RunConfig(target="openai/loopback", base_url=base_url, concurrency=c)
    target = create_target(config.target, base_url=base_url, config=config)
    with SQLiteStore(db) as store:
        t0 = time.perf_counter()
        summary = await run_async(
            config,
            store=store,
            target=target,
            judges=[load_judge("keyword")],
            cases=cases,
            suite_ref="bench@1",
        )
        dt = time.perf_counter() - t0
    await target.aclose()
    assert summary.completed == n and summary.errors == 0, summary
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=400)
    ap.add_argument("-c", type=int, default=32)
    ap.add_argument("--latency-ms", type=float, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "loopback_server.py"),
            "--port",
            str(port),
            "--latency-ms",
            str(a.latency_ms),
        ],
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/stats", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        asyncio.run(bare_client(base_url, 64, a.c, "warmup"))
        ideal = a.n * a.latency_ms / 1000 / a.c
        bare, ours = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(a.repeat):
                bare.append(asyncio.run(bare_client(base_url, a.n, a.c, f"bare{r}")))
                db = Path(tmp) / f"run{r}.db"
                ours.append(asyncio.run(harmscope_scan(base_url, a.n, a.c, f"hs{r}", db)))
        b, h = statistics.median(bare), statistics.median(ours)
        print(
            f"N={a.n} concurrency={a.c} latency={a.latency_ms:.0f}ms ideal={ideal:.3f}s "
            f"(median of {a.repeat})"
        )
        print(f"{'client':<28}{'wall s':>9}{'× ideal':>9}{'× bare':>9}")
        print(f"{'ideal':<28}{ideal:>9.3f}{1.0:>9.2f}{ideal / b:>9.2f}")
        print(f"{'bare asyncio + httpx':<28}{b:>9.3f}{b / ideal:>9.2f}{1.0:>9.2f}")
        print(f"{'harmscope scan (store+judge)':<28}{h:>9.3f}{h / ideal:>9.2f}{h / b:>9.2f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
