"""The Risk Card record: what a harm is, where it sits in other taxonomies, and the evidence.

A card has two halves. The *description* (title, categorisation, harm types, actors, actions
required for harm, illustrative prompt/output pairs) comes from the authored library. The
*evidence* (rates with intervals, judge error, transform effects, redacted examples) and the
*assessment* against a deployment scenario are filled from a stored run.

The JSON Schema of :class:`RiskCard` is checked into ``cards/schema/riskcard.schema.json``;
regenerate it with :func:`write_schema` after any change to these models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harmscope.fsutil import check_output_dir, write_text_atomic
from harmscope.metrics import Rate
from harmscope.metrics.judge_error import JudgeError

__all__ = [
    "CARD_SCHEMA_VERSION",
    "Assessment",
    "CardKind",
    "Categorisation",
    "Evidence",
    "ExamplePair",
    "JudgeError",
    "RedactionOptions",
    "RiskCard",
    "RunExample",
    "TransformEffect",
    "riskcard_json_schema",
    "write_schema",
]

CARD_SCHEMA_VERSION = 1
"""Version of the card layout; bumped on any incompatible change."""

SCHEMA_PATH = Path(__file__).with_name("schema") / "riskcard.schema.json"
"""Where the checked-in JSON Schema lives."""

CardKind = Literal["category", "over_refusal", "weidinger_risk"]
"""A harm category card, its paired over-refusal card, or a Weidinger et al. risk card."""

CONTENT_WARNING = (
    "Content warning: the examples below come from a model under test and may describe or "
    "attempt harmful acts. They are truncated and redacted so operational detail is not "
    "reproduced."
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Categorisation(_Model):
    """Where the harm sits in harmscope's taxonomy and in the crosswalked schemes."""

    harmscope: tuple[str, ...] = ()
    """harmscope category ids the card covers (one for a category card)."""
    weidinger_area: str | None = None
    """Weidinger et al. (2022) risk area, as ``"<n> <name>"``."""
    weidinger_risks: tuple[str, ...] = ()
    """Weidinger et al. risks, as ``"<area>.<n> <name>"``."""
    ailuminate: tuple[str, ...] = ()
    """MLCommons AILuminate v1.0 hazard codes."""
    llamaguard3: tuple[str, ...] = ()
    """Llama Guard 3 categories (S1-S14)."""
    openai: tuple[str, ...] = ()
    """OpenAI moderation categories."""
    aegis2: tuple[str, ...] = ()
    """NVIDIA Aegis 2.0 content-safety categories."""


class ExamplePair(_Model):
    """An illustrative prompt and output, written for the library (never model output)."""

    prompt: str
    """A described request, not an operational one."""
    output: str
    """The kind of answer that would realise (or avoid) the harm, described."""
    note: str = ""
    """Why the pair is an instance of the harm."""


class RedactionOptions(_Model):
    """How example text is cut down before it appears on a card or in a report."""

    max_chars: int = Field(default=240, ge=20)
    """Texts are truncated to at most this many characters (always applied)."""
    keep_words: int | None = Field(default=40, ge=1)
    """Keep only the first N words (``None`` keeps all words up to ``max_chars``)."""
    urls: bool = True
    """Replace URLs and e-mail addresses with a placeholder."""
    quantities: bool = True
    """Replace numbers with units (doses, masses, volumes, temperatures, times)."""
    digits: bool = True
    """Replace every remaining run of digits with ``#``."""


class RunExample(_Model):
    """One case from the run, redacted, shown as evidence."""

    case_id: str
    """The case's id in the run."""
    expected: Literal["refuse", "comply"]
    """What a safe model should have done."""
    outcome: str
    """What the judge read: ``complied``, ``partial`` or ``refused``."""
    prompt: str
    """The user's request, truncated and redacted."""
    output: str
    """The model's answer, truncated and redacted."""
    transform: str | None = None
    """The transform that produced the case, if any."""


class TransformEffect(_Model):
    """How a transform moved a rate compared with the untransformed (plain) cases."""

    transform: str
    """Transform id, from the case tag ``transform``."""
    metric: Literal["unsafe_compliance", "over_refusal"]
    """Which rate."""
    rate: Rate
    """The rate on cases carrying this transform."""
    delta_vs_plain: float | None
    """``rate - plain rate`` (``None`` when either is unmeasured)."""


class Evidence(_Model):
    """Measurements from one run behind a card."""

    run_id: str
    """The run measured."""
    target: str
    """The system under test."""
    suite: str
    """``name@version`` of the suite."""
    judge_id: str | None
    """The judge behind the rates."""
    unsafe_compliance: Rate
    """Share of should-refuse cases not fully refused (Wilson 95 % interval)."""
    over_refusal: Rate
    """Share of should-answer cases not fully answered (Wilson 95 % interval)."""
    cases: int
    """Cases behind the card."""
    errors: int
    """Cases whose target call failed (outside every rate)."""
    unscored: int
    """Cases the judge could not score (outside every rate, never counted safe)."""
    judge_error: JudgeError | None = None
    """The judge's measured error; ``None`` means not measured."""
    worst_transforms: tuple[TransformEffect, ...] = ()
    """Transforms with the highest rate, worst first (empty when no case has one)."""
    examples: tuple[RunExample, ...] = ()
    """Failures selected from the run, redacted."""
    content_warning: str = CONTENT_WARNING
    """Shown before the examples."""
    redaction: RedactionOptions | None = None
    """How the examples were redacted (``None``: truncated only)."""


class Assessment(_Model):
    """The card read against a deployment scenario's thresholds."""

    scenario: str
    """Scenario name."""
    relevant: bool
    """Whether the scenario lists this harm as one that matters."""
    metric: Literal["unsafe_compliance", "over_refusal"]
    """The rate compared."""
    threshold: float | None
    """The maximum acceptable rate, if the scenario sets one."""
    within_threshold: bool | None
    """``True``/``False`` per the rule below; ``None`` when not relevant or not measured."""
    reason: str
    """Why, in one sentence."""
    rule: str
    """The decision rule applied."""


class RiskCard(_Model):
    """One harm, described, placed in the taxonomies, and (optionally) measured."""

    schema_version: Literal[1] = 1
    """Card layout version."""
    id: str = Field(pattern=r"^[a-z0-9_.]+$")
    """Stable id: ``harmscope.<category>``, ``harmscope.<category>.over_refusal`` or
    ``weidinger.<area>.<n>``."""
    kind: CardKind
    """What the card is about."""
    title: str
    """Short human title."""
    description: str
    """What the harm is and how a language model can contribute to it."""
    categorisation: Categorisation
    """Placement in harmscope's taxonomy and in other schemes."""
    harm_types: tuple[str, ...] = ()
    """Kinds of harm (physical, psychological, financial, societal, representational...)."""
    actors: tuple[str, ...] = ()
    """Who brings the harm about (malicious user, vulnerable user, the model itself...)."""
    actions_required: tuple[str, ...] = ()
    """What must happen, beyond the model's output, for harm to occur."""
    example_pairs: tuple[ExamplePair, ...] = ()
    """Illustrative pairs written for the library."""
    evidence: Evidence | None = None
    """Measurements from a run (``None``: not measured)."""
    assessment: Assessment | None = None
    """Reading against a deployment scenario (``None``: no scenario given)."""


def riskcard_json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`RiskCard` (draft 2020-12, as pydantic emits it)."""
    schema = RiskCard.model_json_schema()
    schema["$id"] = "urn:harmscope:riskcard:1"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def write_schema(path: str | Path = SCHEMA_PATH) -> Path:
    """Write the JSON Schema (sorted keys, trailing newline) atomically; return its path."""
    out = Path(path)
    check_output_dir(out.parent)
    write_text_atomic(out, json.dumps(riskcard_json_schema(), indent=2, sort_keys=True) + "\n")
    return out
