"""Typed results of the latent workflows, as ``harmscope latent ... --json`` prints them.

``fit``, ``eval``, ``steer`` and ``sweep`` each return one of these models.

Each model dumps (``model_dump(mode="json")``) to the JSON the commands have always printed:
keys that only some results carry (a fit's test split, a skipped refusal's reason, the page
written with ``--html``) are left out when unset rather than printed as null. A saved
``report.json`` loads back with :meth:`FitResult.load`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

__all__ = [
    "CandidateScore",
    "EvalResult",
    "FitResult",
    "GuardEval",
    "GuardFit",
    "LayerAuroc",
    "MeanProba",
    "PhraseSummary",
    "PolyFitRow",
    "PostAuroc",
    "RefusalFit",
    "SplitSizes",
    "SteerLogOdds",
    "SteerResult",
    "SweepPointRow",
    "SweepRunResult",
]


class _Result(BaseModel):
    """A result whose ``optional`` fields are left out of dumps when None."""

    model_config = ConfigDict(extra="forbid")
    optional: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k in self.optional and v is None)}


class LayerAuroc(_Result):
    """AUROC of the t_inst projection at one layer."""

    layer: int
    auroc: float


class PostAuroc(_Result):
    """AUROC of the diff-in-means projection at one layer and t_post-inst offset."""

    layer: int
    position: int
    """Negative offset from the prompt's end."""
    auroc: float


class MeanProba(_Result):
    """Mean calibrated harm probability of the unsafe and of the safe prompts."""

    unsafe: float
    safe: float


class GuardEval(_Result):
    """The Latent Guard on labelled activations: AUROC, per layer, and threshold metrics."""

    n: int
    auroc: float
    """At the guard's layer (its decision function)."""
    layer: int
    accuracy: float
    precision: float | None
    """``None`` when the guard flags nothing (undefined, which is not zero)."""
    recall: float | None
    fpr: float
    mean_proba: MeanProba
    """Calibrated on the fitting prompts: may sit lower or higher on other prompts."""
    per_layer: list[LayerAuroc]


class EvalResult(GuardEval):
    """``latent eval``: the guard's metrics on a labelled set, and what was evaluated."""

    optional: ClassVar[frozenset[str]] = frozenset({"html"})
    model_id: str
    data: str
    guard: str
    """Folder of the guard, or the set it was fitted on first."""
    system_prompt: str | None
    html: str | None = None
    """The report page written, when one was asked for."""


class GuardFit(_Result):
    """The fitted guard's layer, its validation AUROC per layer and, if held out, its test."""

    optional: ClassVar[frozenset[str]] = frozenset({"test"})
    layer: int
    val_auroc: float
    per_layer_val: list[LayerAuroc]
    test: GuardEval | None = None


class SplitSizes(_Result):
    """Prompts in each split."""

    train: int
    val: int
    test: int


class PhraseSummary(_Result):
    """Refusal openings scored, and how many refusals opened with each."""

    phrases: list[str]
    support: list[int]


class CandidateScore(_Result):
    """One candidate refusal direction and its selection scores."""

    model_config = ConfigDict(frozen=True)
    layer: int
    """Decoder block it was read at."""
    position: int
    """Negative offset from the prompt's end (-1 = last template token)."""
    bypass: float
    """Mean refusal score (log-odds) on harmful prompts with the direction ablated."""
    induce: float
    """Mean refusal score (log-odds) on harmless prompts with the vector added."""
    kl: float
    """Mean KL on harmless prompts, base vs ablated."""
    passed: bool
    """Whether it passed the layer, induce and KL filters."""


class RefusalFit(_Result):
    """The refusal direction selection: its scores, or why no direction was saved."""

    optional: ClassVar[frozenset[str]] = frozenset(
        {
            "reason",
            "layer",
            "position",
            "bypass",
            "induce",
            "kl",
            "proj_harmful",
            "proj_harmless",
            "passed_filters",
            "gap",
            "min_gap",
            "fit_filtered_by_behaviour",
            "n_fit",
            "candidates",
        }
    )
    skipped: bool
    reason: str | None = None
    layer: int | None = None
    position: int | None = None
    bypass: float | None = None
    induce: float | None = None
    kl: float | None = None
    proj_harmful: float | None = None
    """Mean projection of the harmful fitting prompts: the 1 of the scan's refusal signal."""
    proj_harmless: float | None = None
    """Mean projection of the harmless fitting prompts: the 0 of the scan's refusal signal."""
    passed_filters: bool | None = None
    refusal_phrases: PhraseSummary
    gap: float | None = None
    min_gap: float | None = None
    fit_filtered_by_behaviour: bool | None = None
    n_fit: dict[str, int] | None = None
    baseline_harmful_log_odds: float
    baseline_harmless_log_odds: float
    candidates: list[CandidateScore] | None = None


class FitResult(_Result):
    """``latent fit``: the guard, per-offset AUROC and the refusal selection (``report.json``)."""

    optional: ClassVar[frozenset[str]] = frozenset({"refusal", "out", "html"})
    model_id: str
    seed: int
    data_hash: str
    n: SplitSizes
    post_inst_tokens: list[str]
    guard: GuardFit
    post_per_layer_val: list[PostAuroc]
    refusal: RefusalFit | None = None
    out: str | None = None
    """Folder the results were written into."""
    html: str | None = None
    """The report page written, when one was asked for."""

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        """A saved ``report.json`` (or the folder holding it), validated."""
        path = Path(path)
        if path.is_dir():
            path = path / "report.json"
        return cls.model_validate_json(path.read_text())


class SteerLogOdds(_Result):
    """Refusal log-odds of the first token, without and with the intervention."""

    baseline: float
    steered: float


class SteerResult(_Result):
    """``latent steer``: greedy answers without and with the intervention."""

    prompt: str
    mode: Literal["ablate", "add"]
    coef: float | None
    """Multiplier of the added vector (None when ablating)."""
    layer: int
    baseline: str
    steered: str
    refusal_log_odds: SteerLogOdds
    first_pass_only: bool | None
    """Whether the vector was added during the prompt's pass only (None when ablating)."""


class SweepPointRow(_Result):
    """Measures at one steering coefficient."""

    coef: float
    alignment: float
    helpfulness: float
    mc_accuracy: float


class PolyFitRow(_Result):
    """A polynomial fit of a measure against the coefficient."""

    degree: int
    coef: list[float]
    r2: float


class SweepRunResult(_Result):
    """``latent sweep``: alignment and helpfulness over coefficients, with their fits."""

    model_id: str
    layer: int
    refusal_phrases: PhraseSummary
    points: list[SweepPointRow]
    fits: dict[str, dict[str, PolyFitRow]]
