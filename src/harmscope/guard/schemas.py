"""OpenAI moderation schema: request parsing and the response built from guard decisions.

OpenAI category names are filled through the taxonomy's ``openai`` crosswalk: the score of an
OpenAI category is the highest score among harmscope categories that map to it (a category
without its own entry maps through its parent), and it is flagged when one of them is.

Some harmscope categories have no OpenAI counterpart (defamation, specialized advice, privacy,
intellectual property, misinformation, other harm). A text flagged only for those has
``flagged: true`` with every OpenAI category false; the response then names them in
``harmscope_openai_unmapped`` (always present, usually empty), next to
``harmscope_categories``. A text flagged by a deny rule without a category has no category at
all; ``harmscope_reasons`` says which rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from harmscope.datasets import MAX_JSON_DEPTH, json_problem
from harmscope.guard.detectors import ANY
from harmscope.guard.policy import Decision
from harmscope.taxonomy import load_taxonomy

__all__ = [
    "MAX_JSON_DEPTH",
    "OPENAI_CATEGORIES",
    "ErrorResponse",
    "ModerationRequest",
    "ModerationResponse",
    "ModerationResult",
    "json_problem",
    "request_schema",
    "moderation_response",
    "openai_view",
    "unmapped_categories",
]

OPENAI_CATEGORIES: tuple[str, ...] = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
"""Every category of OpenAI's moderation response."""

MAX_INPUTS = 256
"""Most texts per moderation request."""


class _TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    text: str | None = None
    image_url: Any = None


class ModerationRequest(BaseModel):
    """``POST /v1/moderations`` body: ``input`` is a string, a list of strings, or text parts."""

    model_config = ConfigDict(extra="ignore")

    input: str | list[str] | list[_TextPart]
    """Text(s) to classify."""
    model: str | None = None
    """Accepted for compatibility; the guard answers with its own model name."""

    @field_validator("input")
    @classmethod
    def _size(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError("input must not be an empty list")
            if len(value) > MAX_INPUTS:
                raise ValueError(f"at most {MAX_INPUTS} inputs per request")
            for part in value:
                if isinstance(part, _TextPart) and (part.type != "text" or part.text is None):
                    raise ValueError("only text inputs are supported (type 'text')")
        return value

    def texts(self) -> list[str]:
        """The input as a list of strings."""
        if isinstance(self.input, str):
            return [self.input]
        return [p if isinstance(p, str) else (p.text or "") for p in self.input]


@cache
def _crosswalk() -> dict[str, tuple[str, ...]]:
    tax = load_taxonomy()
    return {c.id: tax.from_harmscope(c.id, "openai") for c in tax}


def unmapped_categories(decision: Decision) -> list[str]:
    """Flagged harmscope categories of ``decision`` without an OpenAI counterpart."""
    walk = _crosswalk()
    return [c for c in decision.categories if not walk.get(c)]


def openai_view(decision: Decision) -> tuple[dict[str, bool], dict[str, float]]:
    """OpenAI ``categories`` and ``category_scores`` of a decision (all 13 names present)."""
    walk = _crosswalk()
    flags = dict.fromkeys(OPENAI_CATEGORIES, False)
    scores = dict.fromkeys(OPENAI_CATEGORIES, 0.0)
    for cat, score in decision.scores.items():
        for name in walk.get(cat, ()):
            if name in scores:
                scores[name] = max(scores[name], float(score))
    for cat in decision.categories:
        for name in walk.get(cat, ()):
            if name in flags:
                flags[name] = True
    return flags, scores


def moderation_response(decisions: Sequence[Decision], *, model: str) -> dict[str, Any]:
    """The OpenAI moderation response body, with harmscope categories alongside."""
    results = []
    for d in decisions:
        flags, scores = openai_view(d)
        results.append(
            {
                "flagged": d.flagged,
                "categories": flags,
                "category_scores": scores,
                "category_applied_input_types": {k: ["text"] for k in OPENAI_CATEGORIES},
                "harmscope_categories": list(d.categories),
                "harmscope_openai_unmapped": unmapped_categories(d),
                "harmscope_category_scores": {
                    k: round(float(v), 6) for k, v in d.scores.items() if k != ANY
                },
                "harmscope_unsafe_score": round(float(d.scores.get(ANY, 0.0)), 6),
                "harmscope_reasons": list(d.reasons),
            }
        )
    return {"id": f"modr-{uuid.uuid4().hex[:24]}", "model": model, "results": results}


def request_schema() -> dict[str, Any]:
    """JSON schema of the body :class:`ModerationRequest` accepts (for the OpenAPI document).

    Written out rather than derived, so it states what validation enforces beyond types: at
    most :data:`MAX_INPUTS` texts, not none, and text parts of type ``text`` only.
    """
    many: dict[str, Any] = {"type": "array", "minItems": 1, "maxItems": MAX_INPUTS}
    part = {
        "type": "object",
        "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
        "required": ["type", "text"],
        "additionalProperties": False,
    }
    return {
        "title": "ModerationRequest",
        "type": "object",
        "properties": {
            "input": {
                "anyOf": [
                    {"type": "string"},
                    {**many, "items": {"type": "string"}},
                    {**many, "items": part},
                ]
            },
            "model": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["input"],
    }


class ModerationResult(BaseModel):
    """One result of the moderation response (documentation and tests)."""

    model_config = ConfigDict(extra="forbid")

    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[str]]
    harmscope_categories: list[str]
    harmscope_openai_unmapped: list[str]
    harmscope_category_scores: dict[str, float]
    harmscope_unsafe_score: float
    harmscope_reasons: list[str]


class ModerationResponse(BaseModel):
    """``POST /v1/moderations`` answer (documentation and tests)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    model: str
    results: list[ModerationResult]


class ErrorBody(BaseModel):
    """OpenAI-style error object."""

    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """``{"error": {...}}`` (documentation and tests)."""

    error: ErrorBody


def error_body(
    message: str, *, kind: str = "invalid_request_error", code: str | None = None
) -> dict[str, Any]:
    """``{"error": {...}}`` as OpenAI returns it."""
    return {"error": ErrorBody(message=message, type=kind, code=code).model_dump()}
