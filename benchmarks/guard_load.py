"""Guard service under overload and at steady load: shedding, latency, memory, abandoned work.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/guard_load.py [--connections 200]
        [--duration 60] [--client-timeout 10] [--json] [-- <guard serve options>]
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/guard_load.py --steady [--connections 4]
        [--duration 300] [--sample 30]

Starts ``harmscope guard serve`` (the shipped MiniLM embedding detector) as a subprocess on a
free 127.0.0.1 port, drives ``--connections`` clients (each one request in flight at a time,
aiohttp, a client timeout) for ``--duration`` seconds, then prints: answered/s, shed/s (429 and
503 with ``Retry-After``), other errors (client timeouts, 5xx, connection errors), p50/p99 of
answered requests, the server's RSS before and after (psutil), and the CPU-seconds the server
spent in the ``--settle`` seconds after the clients stopped (work for requests nobody waits for
any more).

``--steady`` (default 4 connections, 300 s) prints the server RSS every ``--sample`` seconds and
the growth from the first sample. Texts are harmscope's ordinary prompts
(``guard/benign_prompts.txt``), one to four joined, so batch shapes vary as in real traffic.
Every loop is bounded in time; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from importlib import resources
from typing import Any

import httpx
import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def texts(n: int = 2000, seed: int = 0) -> list[str]:
    raw = resources.files("harmscope.guard").joinpath("benign_prompts.txt").read_text("utf-8")
    lines = [line for line in raw.splitlines() if line and not line.startswith("#")]
    rng = random.Random(seed)
    return [" ".join(rng.sample(lines, rng.randint(1, 4))) for _ in range(n)]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def start_server(port: int, extra: list[str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "harmscope", "guard", "serve", "--port", str(port), *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("HARMSCOPE_GUARD_TOKEN", None)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"guard serve exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_server(proc)
    raise SystemExit("guard serve did not start within 120 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def cpu_seconds(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


def rss_mb(p: psutil.Process) -> float:
    return float(p.memory_info().rss) / 1e6


class Tally:
    """What the clients saw."""

    def __init__(self) -> None:
        self.answered: list[float] = []
        self.shed = 0
        self.shed_without_retry_after = 0
        self.shed_latency: list[float] = []
        self.other: dict[str, int] = {}

    def error(self, kind: str) -> None:
        self.other[kind] = self.other.get(kind, 0) + 1


async def drive(
    url: str, pool: list[str], conns: int, duration: float, timeout: float, on_tick: Any = None
) -> Tally:
    """``conns`` aiohttp clients, one request in flight each, until ``duration`` has passed.

    A shed request (429/503) is retried after its ``Retry-After`` (at most 1 s), as a
    well-behaved client does; 200 connections still offer far more than the server can do.
    """
    import aiohttp

    tally = Tally()
    stop_at = time.monotonic() + duration
    connector = aiohttp.TCPConnector(limit=conns)
    client_timeout = aiohttp.ClientTimeout(total=timeout)

    async def worker(session: aiohttp.ClientSession, k: int) -> None:
        i = k
        while time.monotonic() < stop_at:
            i += conns
            t0 = time.perf_counter()
            try:
                async with session.post(
                    f"{url}/v1/moderations", json={"input": pool[i % len(pool)]}
                ) as r:
                    await r.read()
                    status, retry = r.status, r.headers.get("retry-after")
            except TimeoutError:
                tally.error("client timeout")
                continue
            except aiohttp.ClientError as exc:
                tally.error(type(exc).__name__)
                await asyncio.sleep(0.05)
                continue
            elapsed = time.perf_counter() - t0
            if status == 200:
                tally.answered.append(elapsed)
            elif status in (429, 503):
                tally.shed += 1
                tally.shed_latency.append(elapsed)
                if retry is None:
                    tally.shed_without_retry_after += 1
                await asyncio.sleep(min(1.0, float(retry or 1)))
            else:
                tally.error(f"HTTP {status}")

    async def ticker() -> None:
        while on_tick is not None and time.monotonic() < stop_at:
            await asyncio.sleep(1.0)
            on_tick()

    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        tasks = [asyncio.ensure_future(worker(session, k)) for k in range(conns)]
        tick = asyncio.ensure_future(ticker())
        # Bounded: every request ends by the client timeout after the stop time.
        _, pending = await asyncio.wait(tasks, timeout=duration + timeout + 5)
        for t in pending:
            t.cancel()
        tick.cancel()
        await asyncio.gather(*tasks, tick, return_exceptions=True)
    return tally


def overload(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    port = free_port()
    proc = start_server(port, extra)
    url = f"http://127.0.0.1:{port}"
    try:
        server = psutil.Process(proc.pid)
        pool = texts()
        asyncio.run(drive(url, pool, 2, 3.0, args.client_timeout))  # warm up
        rss_before = rss_mb(server)
        peak = [rss_before]
        tally = asyncio.run(
            drive(
                url,
                pool,
                args.connections,
                args.duration,
                args.client_timeout,
                on_tick=lambda: peak.append(rss_mb(server)),
            )
        )
        cpu_stop = cpu_seconds(server)
        time.sleep(args.settle)
        cpu_after = cpu_seconds(server) - cpu_stop
        rss_after = rss_mb(server)
        healthy = httpx.post(f"{url}/v1/moderations", json={"input": pool[0]}, timeout=30)
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
    finally:
        stop_server(proc)
    shed_lines = [x for x in metrics.splitlines() if x.startswith("harmscope_guard_shed_total")]
    return {
        "connections": args.connections,
        "duration_s": args.duration,
        "client_timeout_s": args.client_timeout,
        "server_args": extra,
        "answered": len(tally.answered),
        "answered_per_s": len(tally.answered) / args.duration,
        "shed": tally.shed,
        "shed_per_s": tally.shed / args.duration,
        "shed_without_retry_after": tally.shed_without_retry_after,
        "shed_p99_ms": 1000 * pct(tally.shed_latency, 0.99),
        "other_errors": tally.other,
        "p50_ms": 1000 * pct(tally.answered, 0.50),
        "p99_ms": 1000 * pct(tally.answered, 0.99),
        "rss_before_mb": rss_before,
        "rss_peak_mb": max(peak),
        "rss_after_mb": rss_after,
        "cpu_s_after_stop": cpu_after,
        "settle_s": args.settle,
        "answers_after": healthy.status_code,
        "server_shed_metrics": shed_lines,
    }


def steady(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    port = free_port()
    proc = start_server(port, extra)
    url = f"http://127.0.0.1:{port}"
    samples: list[tuple[float, float]] = []
    try:
        server = psutil.Process(proc.pid)
        pool = texts()
        t0 = time.monotonic()
        samples.append((0.0, rss_mb(server)))
        print(f"{0:6.0f} s  RSS {samples[-1][1]:8.1f} MB", flush=True)

        def tick() -> None:
            now = time.monotonic() - t0
            if now >= samples[-1][0] + args.sample - 0.5:
                samples.append((now, rss_mb(server)))
                print(f"{now:6.0f} s  RSS {samples[-1][1]:8.1f} MB", flush=True)

        tally = asyncio.run(
            drive(url, pool, args.connections, args.duration, args.client_timeout, on_tick=tick)
        )
        samples.append((time.monotonic() - t0, rss_mb(server)))
    finally:
        stop_server(proc)
    first, last = samples[0][1], samples[-1][1]
    return {
        "connections": args.connections,
        "duration_s": args.duration,
        "server_args": extra,
        "answered": len(tally.answered),
        "answered_per_s": len(tally.answered) / args.duration,
        "shed": tally.shed,
        "other_errors": tally.other,
        "p50_ms": 1000 * pct(tally.answered, 0.50),
        "p99_ms": 1000 * pct(tally.answered, 0.99),
        "rss_samples_mb": [round(m, 1) for _, m in samples],
        "rss_growth_mb": last - first,
        "rss_growth_after_first_sample_mb": last - samples[1][1] if len(samples) > 2 else None,
    }


def main() -> None:
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steady", action="store_true", help="memory at steady load")
    ap.add_argument("--connections", type=int, default=None)
    ap.add_argument("--duration", type=float, default=None, help="seconds of load")
    ap.add_argument("--client-timeout", type=float, default=10.0)
    ap.add_argument("--settle", type=float, default=10.0, help="seconds watched after load")
    ap.add_argument("--sample", type=float, default=30.0, help="RSS sample period (--steady)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.connections is None:
        args.connections = 4 if args.steady else 200
    if args.duration is None:
        args.duration = 300.0 if args.steady else 60.0
    result = steady(args, extra) if args.steady else overload(args, extra)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        print(f"{key:34s}{shown}")


if __name__ == "__main__":
    main()
