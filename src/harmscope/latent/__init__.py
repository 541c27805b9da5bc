"""Latent analysis: activations at t_inst / t_post-inst, directions, probe, ablation, steering.

Names are imported on first use, so ``import harmscope.latent`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Activations",
    "DiffInMeans",
    "Direction",
    "DirectionMeta",
    "FitOptions",
    "LatentGuard",
    "LatentProbe",
    "ablate",
    "add_direction",
    "auroc",
    "capture_activations",
    "encode_prompts",
    "EvalResult",
    "FitResult",
    "SteerResult",
    "SweepRunResult",
    "evaluate_guard",
    "evaluate_latent",
    "load_direction",
    "find_layers",
    "fit_latent",
    "hooked",
    "load_probe",
    "load_prompts",
    "orthogonalize_weights",
    "refusal_log_odds",
    "select_refusal_direction",
    "split_prompts",
    "steer_prompt",
    "sweep_direction",
    "sweep_tradeoff",
    "template_layout",
]

_WHERE = {
    "Activations": "capture",
    "capture_activations": "capture",
    "DiffInMeans": "directions",
    "Direction": "directions",
    "DirectionMeta": "directions",
    "find_layers": "hooks",
    "hooked": "hooks",
    "ablate": "intervene",
    "add_direction": "intervene",
    "orthogonalize_weights": "intervene",
    "FitOptions": "pipeline",
    "evaluate_guard": "pipeline",
    "fit_latent": "pipeline",
    "steer_prompt": "steering",
    "sweep_direction": "steering",
    "load_direction": "steering",
    "evaluate_latent": "evaluate",
    "FitResult": "results",
    "EvalResult": "results",
    "SteerResult": "results",
    "SweepRunResult": "results",
    "encode_prompts": "positions",
    "template_layout": "positions",
    "LatentGuard": "probe",
    "auroc": "probe",
    "load_prompts": "prompts",
    "LatentProbe": "signals",
    "load_probe": "signals",
    "split_prompts": "prompts",
    "refusal_log_odds": "refusal",
    "select_refusal_direction": "refusal",
    "sweep_tradeoff": "sweep",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'harmscope.latent' has no attribute {name!r}")
    return getattr(importlib.import_module(f"harmscope.latent.{_WHERE[name]}"), name)
