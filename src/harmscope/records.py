"""Core records shared by every part of harmscope.

Anything written to disk, sent over the wire or read from user files is a frozen pydantic
model. Records carry ``SCHEMA_VERSION`` when stored, and are validated when read back.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "SCHEMA_VERSION",
    "Case",
    "Expected",
    "GenerationParams",
    "Message",
    "RefusalLabel",
    "Response",
    "Role",
    "Verdict",
]

SCHEMA_VERSION = 1
"""Version of the stored record layout; bumped on any incompatible change."""

Role = Literal["system", "user", "assistant"]
Expected = Literal["refuse", "comply"]
RefusalLabel = Literal["full_compliance", "full_refusal", "partial_refusal"]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Message(_Record):
    """One chat message."""

    role: Role
    """Who speaks."""
    content: str
    """What is said."""


class Case(_Record):
    """One test item: a conversation to send and how a safe model should answer it."""

    id: str = Field(min_length=1)
    """Stable id, unique within its suite (e.g. ``core.violent_crime.u03``)."""
    messages: tuple[Message, ...] = Field(min_length=1)
    """The conversation sent to the target; the last message is the user's."""
    category: str
    """Taxonomy id of the hazard the case probes (e.g. ``violent_crime``)."""
    expected: Expected
    """``refuse`` for an unsafe request, ``comply`` for a safe (look-alike) one."""
    source: str = ""
    """Where the case comes from, as ``suite@version``."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Free labels: language, look-alike kind, transform, persona, turn..."""
    parent_id: str | None = None
    """The case this one was derived from by a transform, if any."""

    @field_validator("messages")
    @classmethod
    def _ends_with_user(cls, messages: tuple[Message, ...]) -> tuple[Message, ...]:
        if messages[-1].role != "user":
            raise ValueError("a case's last message must be the user's")
        return messages

    @classmethod
    def from_prompt(cls, prompt: str, **fields: object) -> Case:
        """Build a single-turn case from one user prompt."""
        return cls(messages=(Message(role="user", content=prompt),), **fields)

    @property
    def prompt(self) -> str:
        """The last user message: the request being judged."""
        return self.messages[-1].content

    def content_hash(self) -> str:
        """Hash of what the target sees (messages only), for response caching."""
        payload = json.dumps([m.model_dump() for m in self.messages], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


class GenerationParams(_Record):
    """How a target generates; part of the response cache key."""

    max_new_tokens: int = Field(default=64, ge=1, le=32768)
    """Upper bound on generated tokens."""
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    """0 means greedy decoding."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    """Nucleus sampling mass (ignored when greedy)."""
    seed: int = 0
    """Seed for sampling targets that honour one."""
    system_prompt: str | None = None
    """A system message prepended to every case that has none."""

    def cache_key(self) -> str:
        """A short stable hash of these parameters."""
        payload = json.dumps(self.model_dump(), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


class Response(_Record):
    """What a target answered to one case (or why it could not)."""

    case_id: str
    """The case answered."""
    target_id: str
    """The target, as ``provider/model``."""
    text: str | None = None
    """The answer; ``None`` when the call failed."""
    finish_reason: str | None = None
    """``stop``, ``length``, ... as the backend reports it."""
    latency_s: float = 0.0
    """Wall time of the call, retries included."""
    prompt_tokens: int | None = None
    """Prompt length in tokens, when known."""
    completion_tokens: int | None = None
    """Answer length in tokens, when known."""
    error: str | None = None
    """Why no usable answer came back; an errored case is never scored."""
    signals: dict[str, float] = Field(default_factory=dict)
    """Extra per-response measurements (e.g. latent harm-belief and refusal scores)."""
    turns: tuple[str, ...] = ()
    """In a live multi-turn run, the target's answer to each user turn in order (the last is
    ``text``); empty otherwise."""

    @property
    def ok(self) -> bool:
        """Whether the call produced text."""
        return self.error is None and self.text is not None


class Verdict(_Record):
    """A judge's reading of one response. ``unscored`` is a third state, never safe."""

    case_id: str
    """The case judged."""
    judge_id: str
    """The judge, as ``name@version``."""
    refusal: RefusalLabel | None = None
    """Refusal outcome (XSTest scheme), when the judge reads refusal."""
    harmful: bool | None = None
    """Whether the answer gives meaningful help toward a harmful goal, when read."""
    harm_score: float | None = Field(default=None, ge=0.0, le=1.0)
    """1.0 means harmful."""
    categories: tuple[str, ...] = ()
    """Taxonomy ids the judge attributes the harm to."""
    scores: dict[str, float] = Field(default_factory=dict)
    """Raw scores behind the labels (per class, per category)."""
    unscored_reason: str | None = None
    """Why the judge could not score; set means the verdict carries no label."""
    rationale: str | None = None
    """A short human-readable reason (matched phrase, judge model's text...)."""

    @property
    def scored(self) -> bool:
        """Whether the judge produced a label."""
        return self.unscored_reason is None

    @classmethod
    def unscored(cls, case_id: str, judge_id: str, reason: str) -> Verdict:
        """A verdict that records why nothing could be said."""
        return cls(case_id=case_id, judge_id=judge_id, unscored_reason=reason)
