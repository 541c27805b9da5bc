"""A loopback OpenAI-compatible chat server with a fixed per-request latency.

Usage: python loopback_server.py --port 8765 --latency-ms 100
Answers every chat completion after sleeping the latency; GET /stats counts requests.
"""

import argparse
import asyncio
import time

from aiohttp import web


def make_app(latency_s: float) -> web.Application:
    stats = {"requests": 0}

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        stats["requests"] += 1
        await asyncio.sleep(latency_s)
        text = "I'm sorry, but I can't help with that."
        return web.json_response(
            {
                "id": f"cmpl-{stats['requests']}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "loopback"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 9, "total_tokens": 19},
            }
        )

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(stats)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/stats", get_stats)
    return app


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--latency-ms", type=float, default=100)
    a = ap.parse_args()
    web.run_app(make_app(a.latency_ms / 1000), host="127.0.0.1", port=a.port, print=None)
