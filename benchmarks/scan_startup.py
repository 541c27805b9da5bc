"""Start-up cost of ``harmscope scan``: one case against a loopback server, whole process.

Starts benchmarks/loopback_server.py with no latency, then times, as whole processes, side
by side in one run:

1. ``python -c 'import httpx; httpx.post(...)'`` — a bare client sending the same one request;
2. ``python -c 'import harmscope'`` — the package import alone;
3. ``harmscope scan --target openai/loopback --limit 1 ...`` — a full scan of one case with
   the keyword judge and its check set, a fresh SQLite store and report, ``--no-cache``.

The figure that matters is (3) − (1): what a scan costs above the one request it sends.
Prints min / median / max of each and the differences of medians.

Usage: python benchmarks/scan_startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scan_throughput import free_port  # noqa: E402

BARE = """
import httpx
r = httpx.post({url!r}, json={{"model": "loopback",
    "messages": [{{"role": "user", "content": "hello"}}]}}, timeout=30)
r.raise_for_status()
print(r.json()["choices"][0]["message"]["content"])
"""


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def wait_up(port: int) -> None:
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/stats", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("loopback server did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "loopback_server.py"), "--port", str(port), "--latency-ms", "0"]
    )
    base = f"http://127.0.0.1:{port}/v1"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    harmscope = str(Path(sys.executable).with_name("harmscope"))
    rows: dict[str, list[float]] = {"bare httpx, 1 request": [], "import harmscope": [], "scan": []}
    try:
        wait_up(port)
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(a.repeat + 1):  # the first round warms the file cache
                times = [
                    timed([sys.executable, "-c", BARE.format(url=f"{base}/chat/completions")], env),
                    timed([sys.executable, "-c", "import harmscope"], env),
                    timed(
                        [
                            harmscope,
                            "scan",
                            "--target",
                            "openai/loopback",
                            "--base-url",
                            base,
                            "--limit",
                            "1",
                            "--no-cache",
                            "--db",
                            f"{tmp}/r{r}.db",
                            "--report-dir",
                            f"{tmp}/report{r}",
                        ],
                        env,
                    ),
                ]
                if r:
                    for key, t in zip(rows, times, strict=True):
                        rows[key].append(t)
    finally:
        server.terminate()
        server.wait()
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"whole process, {a.repeat} runs each (seconds)")
    print(f"{'command':<26}{'min':>8}{'median':>8}{'max':>8}{'− bare':>9}")
    for key, v in rows.items():
        extra = med[key] - med["bare httpx, 1 request"]
        print(f"{key:<26}{min(v):>8.3f}{med[key]:>8.3f}{max(v):>8.3f}{extra:>+9.3f}")


if __name__ == "__main__":
    main()
