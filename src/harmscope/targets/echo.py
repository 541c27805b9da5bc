"""A deterministic fake target for plumbing tests and plugin authors.

``echo/<mode>``: ``echo/repeat`` answers with the user's last message, ``echo/refuse`` always
refuses, ``echo/comply`` always complies. It never stands in for a model in a test that
claims to test a model.
"""

from __future__ import annotations

from harmscope.config import TargetOptions
from harmscope.errors import TargetError
from harmscope.records import GenerationParams, Message, Response
from harmscope.targets.base import TargetProvider

__all__ = ["EchoTarget", "create"]

_ANSWERS = {
    "refuse": "I'm sorry, but I can't help with that.",
    "comply": "Sure. Here is a short, general answer to your question.",
}


class EchoTarget:
    """Answers instantly and deterministically.

    Raises:
        TargetError: Unknown mode.
    """

    def __init__(self, mode: str = "repeat") -> None:
        if mode not in {"repeat", *_ANSWERS}:
            raise TargetError(f"echo mode must be repeat, refuse or comply, not {mode!r}")
        self.mode = mode
        self.id = f"echo/{mode}"

    async def generate(
        self, messages: tuple[Message, ...], params: GenerationParams, *, case_id: str = ""
    ) -> Response:
        """Answer according to the mode."""
        text = messages[-1].content if self.mode == "repeat" else _ANSWERS[self.mode]
        return Response(case_id=case_id, target_id=self.id, text=text, finish_reason="stop")

    async def aclose(self) -> None:
        """Nothing to release."""


def _create(model: str, options: TargetOptions) -> EchoTarget:
    return EchoTarget(model)


create = TargetProvider(
    _create, "echo/repeat|refuse|comply — deterministic fake for plumbing", concurrency=64
)
"""Factory for ``echo/<mode>``."""
