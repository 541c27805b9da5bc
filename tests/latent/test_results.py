"""Typed latent results: their JSON keeps today's keys and a saved fit report loads back."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from harmscope.latent.results import (
    EvalResult,
    FitResult,
    GuardEval,
    GuardFit,
    LayerAuroc,
    MeanProba,
    PhraseSummary,
    RefusalFit,
    SplitSizes,
    SteerLogOdds,
    SteerResult,
)
from harmscope.report.latent import AurocView, auroc_series

METRICS = dict(
    n=4,
    auroc=0.75,
    layer=1,
    accuracy=0.5,
    precision=0.5,
    recall=1.0,
    fpr=1.0,
    mean_proba=MeanProba(unsafe=0.6, safe=0.4),
    per_layer=[LayerAuroc(layer=0, auroc=0.5), LayerAuroc(layer=1, auroc=0.75)],
)


def _fit(**extra: object) -> FitResult:
    return FitResult(
        model_id="m",
        seed=0,
        data_hash="h",
        n=SplitSizes(train=6, val=2, test=2),
        post_inst_tokens=["<a>"],
        guard=GuardFit(layer=1, val_auroc=0.9, per_layer_val=[LayerAuroc(layer=1, auroc=0.9)]),
        post_per_layer_val=[],
        **extra,
    )


def test_unset_optional_keys_are_left_out_and_nulls_that_mean_something_stay() -> None:
    fit = _fit()
    assert set(fit.model_dump(mode="json")) == {
        "model_id", "seed", "data_hash", "n", "post_inst_tokens", "guard", "post_per_layer_val"
    }  # fmt: skip
    assert "test" not in fit.model_dump(mode="json")["guard"]
    fit.guard.test = GuardEval(**METRICS)
    fit.out = "out"
    dumped = fit.model_dump(mode="json")
    assert dumped["guard"]["test"]["mean_proba"] == {"unsafe": 0.6, "safe": 0.4}
    assert dumped["out"] == "out" and "html" not in dumped
    ev = EvalResult(model_id="m", data="d", guard="g", system_prompt=None, **METRICS)
    assert ev.model_dump(mode="json")["system_prompt"] is None
    assert "html" not in ev.model_dump(mode="json")
    steer = SteerResult(
        prompt="p", mode="ablate", coef=None, layer=0, baseline="a", steered="b",
        refusal_log_odds=SteerLogOdds(baseline=1.0, steered=-1.0), first_pass_only=None,
    )  # fmt: skip
    assert {"coef", "first_pass_only"} <= set(steer.model_dump(mode="json"))


def test_a_skipped_refusal_keeps_only_its_keys() -> None:
    r = RefusalFit(
        skipped=True,
        reason="barely refuses",
        refusal_phrases=PhraseSummary(phrases=["I"], support=[]),
        baseline_harmful_log_odds=0.1,
        baseline_harmless_log_odds=0.0,
        gap=0.1,
        min_gap=1.0,
    )
    assert set(r.model_dump(mode="json")) == {
        "skipped", "reason", "refusal_phrases", "baseline_harmful_log_odds",
        "baseline_harmless_log_odds", "gap", "min_gap",
    }  # fmt: skip


def test_a_saved_report_loads_back_validated(tmp_path) -> None:
    fit = _fit()
    (tmp_path / "report.json").write_text(fit.model_dump_json(indent=2))
    assert FitResult.load(tmp_path) == fit
    assert FitResult.load(tmp_path / "report.json") == fit
    (tmp_path / "bad.json").write_text(json.dumps({"model_id": "m"}))
    with pytest.raises(ValidationError):
        FitResult.load(tmp_path / "bad.json")


def test_the_latent_page_reads_results_and_their_json_alike() -> None:
    fit = _fit()
    assert auroc_series(fit) == auroc_series(fit.model_dump(mode="json"))
    assert auroc_series(fit) == [("t_inst (validation)", ((1, 0.9),))]
    assert AurocView.of(fit).model_id == "m"
