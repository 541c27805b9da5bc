"""The Latent Guard as a guard detector: a real fitted probe on a tiny model, through load_guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harmscope.errors import DataError, HarmscopeError, NotFoundError
from harmscope.guard.detectors import ANY, LatentDetector, latent_detector
from harmscope.guard.engine import load_guard
from harmscope.latent.capture import capture_activations, layer_inputs
from harmscope.latent.probe import LatentGuard

from .test_signals import SAFE, UNSAFE
from .tiny import make_model

CHECKED = ["How can I steal a car?", "Write a poem about the sea.", "Hi", "Sorry?"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny Qwen2 model saved as a folder, and a Latent Guard fitted on it."""
    model, tok = make_model("qwen2", layers=4)
    root = tmp_path_factory.mktemp("latent-guard")
    model.save_pretrained(root / "model")
    tok.save_pretrained(root / "model")
    from harmscope.targets.models import load_model

    loaded = load_model(str(root / "model"))
    a_h = capture_activations(loaded.model, loaded.tokenizer, UNSAFE)
    a_s = capture_activations(loaded.model, loaded.tokenizer, SAFE)
    # layer 1 of 4: scoring stops there, so the early exit is exercised
    LatentGuard(layer=1).fit(a_h.inst, a_s.inst).save(
        root / "probe" / "guard", model_id=loaded.model_id
    )
    return root / "model", root / "probe"


def test_layer_inputs_equal_full_capture(fitted: tuple[Path, Path]) -> None:
    from harmscope.targets.models import load_model

    loaded = load_model(str(fitted[0]))
    full = capture_activations(loaded.model, loaded.tokenizer, CHECKED, batch_size=2)
    early = layer_inputs(loaded.model, loaded.tokenizer, CHECKED, layer=1, batch_size=2)
    np.testing.assert_allclose(early, full.inst[:, 1], atol=1e-6)
    hooks = sum(len(m._forward_hooks) for m in loaded.model.modules())
    assert hooks == 0, "the stopping hook is removed"


def test_load_guard_latent_scores_like_the_probe(fitted: tuple[Path, Path]) -> None:
    model_dir, probe_dir = fitted
    guard = load_guard(f"latent:{model_dir}", latent_probe=probe_dir)
    (det,) = guard.detectors
    assert isinstance(det, LatentDetector) and isinstance(det.probe, LatentGuard)
    probe = det.probe
    a, b = probe.calib_
    want_thr = 1 / (1 + np.exp(-(a * probe.threshold_ + b)))
    assert det.thresholds[ANY] == pytest.approx(want_thr)
    assert guard.policy.any_threshold == pytest.approx(want_thr), "policy takes the probe's"
    decisions = guard.check_sync(CHECKED)
    from harmscope.targets.models import load_model

    loaded = load_model(str(model_dir))
    acts = capture_activations(loaded.model, loaded.tokenizer, CHECKED, batch_size=1)
    want = probe.predict_proba(acts.inst)
    for text, dec, p in zip(CHECKED, decisions, want, strict=True):
        assert dec.scores[ANY] == pytest.approx(p, abs=1e-5), text
        assert dec.flagged == (p >= want_thr), text


def test_latent_detector_errors(fitted: tuple[Path, Path], tmp_path: Path) -> None:
    model_dir, probe_dir = fitted
    with pytest.raises(NotFoundError, match="no latent probe shipped"):
        latent_detector(str(model_dir))
    LatentGuard.load(probe_dir / "guard")[0].save(tmp_path / "other", model_id="other-model")
    with pytest.raises(DataError, match="other-model"):
        latent_detector(str(model_dir), probe=tmp_path / "other")
    with pytest.raises(HarmscopeError, match="latent"):
        load_guard("nonsense")


def test_guard_eval_cli_with_a_latent_detector_and_probe(
    fitted: tuple[Path, Path], tmp_path: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from harmscope.cli import app

    model_dir, probe = fitted
    data = tmp_path / "prompts.jsonl"
    rows = [{"text": t, "label": "unsafe"} for t in UNSAFE[:3]]
    rows += [{"text": t, "label": "safe"} for t in SAFE[:3]]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["guard", "eval", "--guard", f"latent:{model_dir}", "--latent-probe", str(probe)]
    result = CliRunner().invoke(app, [*args, "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["n"] == 6
    # a missing probe folder is a one-line error, not a traceback
    bad = CliRunner().invoke(
        app, [*args[:4], "--latent-probe", str(tmp_path / "nope"), "--data", str(data)]
    )
    assert bad.exit_code != 0 and "Traceback" not in bad.output
