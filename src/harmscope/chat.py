"""Chat-template rendering: one way to turn a conversation into a generation prompt.

Local targets and the latent workflows both render conversations here, so that the prompt a
scan sends and the prompt whose activations are read are the same text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["has_chat_template", "render_chat"]


def has_chat_template(tokenizer: Any) -> bool:
    """Whether ``tokenizer`` carries a chat template."""
    return bool(getattr(tokenizer, "chat_template", None))


def render_chat(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> str:
    """The conversation rendered as a prompt the assistant answers next (not tokenised).

    With a chat template, the template's rendering with the generation prompt; without one
    (a base model), plain ``role: content`` turns ending in ``assistant:``.

    Args:
        tokenizer: A Hugging Face tokenizer.
        messages: ``{"role": ..., "content": ...}`` turns, system first when there is one.
    """
    chat = [{"role": m["role"], "content": m["content"]} for m in messages]
    if has_chat_template(tokenizer):
        return str(tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False))
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in chat) + "\n\nassistant:"
