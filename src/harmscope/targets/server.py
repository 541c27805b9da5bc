"""Serve any Target as an OpenAI-compatible chat endpoint.

``harmscope serve-model --target hf/default`` puts the local model behind
``POST /v1/chat/completions`` (streaming too), ``GET /v1/models`` and ``GET /healthz``, so that
HTTP tools (and harmscope's own ``openai/`` target and guard proxy) can reach it. Concurrent
requests reach the target concurrently; the transformers target batches them into one forward
pass. Streaming sends the finished answer as SSE chunks: targets answer whole, not token by
token.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harmscope.errors import MissingDependencyError
from harmscope.records import GenerationParams, Message, Response
from harmscope.targets.base import Target

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ChatRequest", "create_chat_app", "serve_target"]


class _ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    """The subset of OpenAI's chat-completions request that targets understand."""

    model_config = ConfigDict(extra="ignore")

    model: str = ""
    messages: list[_ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=32768)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=32768)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = None
    stream: bool = False

    def params(self, default_max_tokens: int) -> GenerationParams:
        """Generation parameters of this request."""
        return GenerationParams(
            max_new_tokens=self.max_completion_tokens or self.max_tokens or default_max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed or 0,
        )


def create_chat_app(
    target: Target, *, model_name: str | None = None, default_max_tokens: int = 256
) -> FastAPI:
    """A FastAPI app answering chat completions with ``target``.

    Args:
        target: The system that answers (closed when the app shuts down).
        model_name: Name reported in responses and ``/v1/models``; defaults to the target id.
        default_max_tokens: Used when a request sets no ``max_tokens``.

    Raises:
        MissingDependencyError: FastAPI is not installed (extra ``serve``).
    """
    try:
        from contextlib import asynccontextmanager

        from fastapi import FastAPI, HTTPException
        from fastapi.responses import JSONResponse, StreamingResponse
    except ImportError as exc:
        raise MissingDependencyError("fastapi", "serve") from exc

    name = model_name or target.id

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await target.aclose()

    app = FastAPI(title="harmscope model server", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "model": name}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": name, "object": "model", "created": 0, "owned_by": "harmscope"}],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(req: ChatRequest) -> JSONResponse | StreamingResponse:
        if req.messages[-1].role != "user":
            raise HTTPException(422, "the last message must be from the user")
        messages = tuple(Message(role=m.role, content=m.content) for m in req.messages)
        response = await target.generate(messages, req.params(default_max_tokens))
        if not response.ok or response.text is None:
            return JSONResponse(
                {"error": {"message": response.error or "no answer", "type": "server_error"}},
                status_code=502,
            )
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        finish = response.finish_reason or "stop"
        if req.stream:
            return StreamingResponse(
                _sse_chunks(cid, created, name, response.text, finish),
                media_type="text/event-stream",
            )
        return JSONResponse(_completion(cid, created, name, response.text, finish, response))

    return app


def _completion(
    cid: str, created: int, model: str, text: str, finish: str, response: Response
) -> dict[str, Any]:
    """A non-streamed chat completion with one choice and the token usage."""
    prompt, completion = response.prompt_tokens or 0, response.completion_tokens or 0
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


async def _sse_chunks(
    cid: str, created: int, model: str, text: str, finish: str, *, chunk_chars: int = 24
) -> AsyncIterator[str]:
    def event(delta: dict[str, str], finish_reason: str | None) -> str:
        chunk = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        return f"data: {json.dumps(chunk)}\n\n"

    yield event({"role": "assistant", "content": ""}, None)
    for i in range(0, len(text), chunk_chars):
        yield event({"content": text[i : i + chunk_chars]}, None)
    yield event({}, finish)
    yield "data: [DONE]\n\n"


def serve_target(
    target: Target, *, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None
) -> None:
    """Serve ``target`` with uvicorn until interrupted.

    Raises:
        MissingDependencyError: uvicorn is not installed (extra ``serve``).
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError("uvicorn", "serve") from exc
    uvicorn.run(create_chat_app(target, model_name=model_name), host=host, port=port)
