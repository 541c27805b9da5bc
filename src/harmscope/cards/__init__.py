"""Risk Cards: harms described, placed in other taxonomies, and measured by a run.

``build_cards(summary, results, scenario=...)`` fills the authored library with a run's
evidence; ``render_markdown`` / ``cards_to_json`` write them out. The card layout is a
versioned pydantic model whose JSON Schema ships in ``cards/schema/riskcard.schema.json``.
"""

from __future__ import annotations

from harmscope.cards.build import build_cards, find_judge_error, transform_effects
from harmscope.cards.library import Library, load_library
from harmscope.cards.model import (
    CARD_SCHEMA_VERSION,
    Assessment,
    Categorisation,
    Evidence,
    ExamplePair,
    JudgeError,
    RedactionOptions,
    RiskCard,
    RunExample,
    TransformEffect,
    riskcard_json_schema,
    write_schema,
)
from harmscope.cards.redact import redact
from harmscope.cards.render import cards_to_json, render_markdown, write_cards
from harmscope.cards.scenario import (
    RULE,
    Scenario,
    Thresholds,
    assess,
    load_judge_error,
    load_scenario,
)

__all__ = [
    "CARD_SCHEMA_VERSION",
    "RULE",
    "Assessment",
    "Categorisation",
    "Evidence",
    "ExamplePair",
    "JudgeError",
    "Library",
    "RedactionOptions",
    "RiskCard",
    "RunExample",
    "Scenario",
    "Thresholds",
    "TransformEffect",
    "assess",
    "build_cards",
    "cards_to_json",
    "find_judge_error",
    "load_judge_error",
    "load_library",
    "load_scenario",
    "redact",
    "render_markdown",
    "riskcard_json_schema",
    "transform_effects",
    "write_cards",
    "write_schema",
]
