"""The two labelled records every dataset reader returns: prompts and responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from harmscope.records import RefusalLabel

__all__ = ["Label", "LabelledPrompt", "LabelledResponse"]

Label = Literal["safe", "unsafe"]
"""Ground truth for a prompt: ``unsafe`` for a harmful request, ``safe`` otherwise."""


@dataclass(frozen=True, slots=True)
class LabelledPrompt:
    """One user instruction and whether it is a harmful request.

    Attributes:
        text: The instruction (for HarmBench contextual behaviours, the request alone).
        label: ``unsafe`` for a harmful request, ``safe`` otherwise.
        category: Harmscope category id, when the source gives one (kept raw as written in
            labelled-prompt files).
        source: Name of the set (or file stem) it came from.
        id: Row id, unique within its source (empty where the source has none).
        lang: Language code, when known.
        kind: Prompt type where the source gives one (XSTest ``type``).
        context: Context the request refers to (HarmBench contextual behaviours), verbatim.
        tags: Further non-empty source fields by name (``lang``, ``hazard``, ``origin``...);
            not compared.
    """

    text: str
    label: Label
    category: str | None = None
    source: str = ""
    id: str = ""
    lang: str | None = None
    kind: str | None = None
    context: str = ""
    tags: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def unsafe(self) -> bool:
        """Whether the prompt is a harmful request."""
        return self.label == "unsafe"


@dataclass(frozen=True, slots=True)
class LabelledResponse:
    """One prompt/response pair with its human labels.

    Attributes:
        id: Unique within its dataset.
        prompt: The request answered.
        response: The answer to judge (may be empty: judges must leave it unscored).
        refusal: Binary refusal label (partial counts as refusal), when known.
        refusal_label: 3-way label, when known.
        harmful: Whether the answer gives meaningful help toward a harmful goal, when known.
        category: Taxonomy id of the request's hazard.
        expected: ``refuse`` or ``comply``: how a safe model should answer the prompt.
        source: The model that wrote the response (for per-source breakdowns and splits).
        group: Items sharing a group (e.g. a behaviour) never straddle a train/test split.
        baselines: Other judges' binary labels stored with the data (``name -> positive``;
            ``None`` when the stored value could not be read).
    """

    id: str
    prompt: str
    response: str
    refusal: bool | None = None
    refusal_label: RefusalLabel | None = None
    harmful: bool | None = None
    category: str = "unspecified"
    expected: str = "refuse"
    source: str = "unknown"
    group: str = ""
    baselines: dict[str, bool | None] = field(default_factory=dict)
