"""Latent scan signals: harm belief and refusal, read from the prompt's own forward pass.

A *latent probe* is a fitted :class:`~harmscope.latent.probe.LatentGuard` (harmfulness at
t_inst) plus, when one was selected, a refusal direction (at one t_post-inst position). While a
local model answers a prompt, :func:`capture_prefill` records the residual stream at the
probe's layers during the first forward pass of ``generate`` (the prefill over the prompt), and
:func:`read_signals` turns it into ``Response.signals``:

* ``harm_belief``: the probe's calibrated probability that the request is harmful, in [0, 1];
* ``harm_belief_threshold``: the probe's operating point on that scale (its threshold, tuned on
  its validation split): a belief at or above it is what the probe calls harmful;
* ``refusal_projection``: projection on the unit refusal direction (only with a direction);
* ``refusal``: that projection rescaled so that 0 is the mean of harmless and 1 the mean of
  harmful fitting prompts (only when the direction carries those two means).

The default model ships a probe under ``harmscope/latent/weights/<model slug>/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from harmscope.errors import DataError
from harmscope.latent.directions import Direction
from harmscope.latent.probe import GuardMeta, LatentGuard

__all__ = [
    "HARM_BELIEF",
    "HARM_THRESHOLD",
    "REFUSAL",
    "REFUSAL_PROJECTION",
    "SHIPPED_DIR",
    "LatentProbe",
    "RefusalReader",
    "capture_prefill",
    "find_probe",
    "load_probe",
    "model_slug",
    "read_signals",
    "shipped_probe_dir",
]

HARM_BELIEF = "harm_belief"
"""Signal key: probe probability that the request is harmful (t_inst)."""
HARM_THRESHOLD = "harm_belief_threshold"
"""Signal key: the probe's operating point as a probability (its tuned threshold)."""
REFUSAL = "refusal"
"""Signal key: refusal projection rescaled to harmless mean 0, harmful mean 1 (t_post-inst)."""
REFUSAL_PROJECTION = "refusal_projection"
"""Signal key: raw projection on the unit refusal direction (t_post-inst)."""

SHIPPED_DIR = Path(__file__).resolve().parent / "weights"
"""Where probes shipped with harmscope live, one folder per model slug."""

F64 = npt.NDArray[np.float64]


def model_slug(model_id: str) -> str:
    """A folder name for a model id (``SmolLM2-135M-Instruct`` -> ``smollm2-135m-instruct``)."""
    return re.sub(r"[^a-z0-9.]+", "-", model_id.lower()).strip("-")


def shipped_probe_dir(model_id: str) -> Path:
    """Where the shipped probe of ``model_id`` lives (it may not exist)."""
    return SHIPPED_DIR / model_slug(model_id)


def find_probe(model_id: str) -> Path | None:
    """The shipped probe folder of ``model_id``, or ``None`` when harmscope ships none."""
    folder = shipped_probe_dir(model_id)
    return folder if (folder / "guard.json").is_file() else None


@dataclass(frozen=True, slots=True)
class RefusalReader:
    """A refusal direction at one layer and t_post-inst position, ready to project on."""

    unit: npt.NDArray[np.float32]
    """Unit-norm direction, shape ``(d,)``."""
    layer: int
    """Decoder block whose output is read."""
    position: int
    """Negative offset from the prompt's end (-1 = last template token)."""
    harmful_mean: float | None = None
    """Mean projection of the harmful fitting prompts, when recorded."""
    harmless_mean: float | None = None
    """Mean projection of the harmless fitting prompts, when recorded."""

    def rescale(self, projection: float) -> float | None:
        """``projection`` on the scale harmless mean = 0, harmful mean = 1 (None if unknown)."""
        if self.harmful_mean is None or self.harmless_mean is None:
            return None
        gap = self.harmful_mean - self.harmless_mean
        if gap == 0.0:
            return None
        return (projection - self.harmless_mean) / gap


@dataclass(frozen=True, slots=True)
class LatentProbe:
    """A fitted Latent Guard and an optional refusal direction for one model."""

    guard: LatentGuard
    """The harmfulness probe (t_inst)."""
    meta: GuardMeta
    """What the guard was fitted on."""
    refusal: RefusalReader | None = None
    """The refusal direction, when one was selected."""
    source: str = ""
    """Folder it was loaded from."""

    @property
    def fingerprint(self) -> str:
        """A short hash of everything the signals depend on (guard, direction, refusal reader).

        Cached answers carry the signals of the probe that produced them; the runner keys its
        cache on this so a scan never reuses another probe's signals (or none).
        """
        import hashlib

        h = hashlib.sha256(self.meta.model_dump_json().encode())
        h.update(np.ascontiguousarray(self.guard.dim_.direction_, dtype=np.float32).tobytes())
        if self.refusal is not None:
            r = self.refusal
            h.update(f"{r.layer}:{r.position}:{r.harmful_mean}:{r.harmless_mean}".encode())
            h.update(np.ascontiguousarray(r.unit, dtype=np.float32).tobytes())
        return h.hexdigest()[:16]

    @property
    def layers(self) -> tuple[int, ...]:
        """Decoder blocks whose outputs the signals need."""
        layers = {self.guard.layer_}
        if self.refusal is not None:
            layers.add(self.refusal.layer)
        return tuple(sorted(layers))


def _guard_dir(folder: Path) -> Path:
    """A guard saved directly in ``folder`` (shipped layout) or in ``folder/guard`` (fit)."""
    return folder if (folder / "guard.json").is_file() else folder / "guard"


def _refusal_reader(folder: Path) -> RefusalReader | None:
    if not (folder / "refusal" / "direction.json").is_file():
        return None
    direction = Direction.load(folder / "refusal")
    meta = direction.meta
    if meta.kind != "refusal" or not isinstance(meta.position, int):
        raise DataError(f"{folder / 'refusal'}: not a refusal direction at a t_post-inst offset")
    return RefusalReader(
        unit=direction.unit,
        layer=meta.layer,
        position=meta.position,
        harmful_mean=meta.scores.get("proj_harmful"),
        harmless_mean=meta.scores.get("proj_harmless"),
    )


def load_probe(folder: str | Path) -> LatentProbe:
    """Read a probe: a folder written by ``latent fit`` or a shipped probe folder.

    The guard is ``folder/guard.json`` (or ``folder/guard/guard.json``); the refusal direction,
    optional, is ``folder/refusal/``.

    Raises:
        DataError: No readable guard in the folder, or a malformed refusal direction.
    """
    src = Path(folder)
    guard, meta = LatentGuard.load(_guard_dir(src))
    return LatentProbe(guard=guard, meta=meta, refusal=_refusal_reader(src), source=str(src))


@contextmanager
def capture_prefill(model: Any, layers: Sequence[int]) -> Iterator[dict[int, Any]]:
    """Record the outputs of blocks ``layers`` during the first forward pass only.

    With ``model.generate`` the first pass is the prefill over the whole prompt; later passes
    (one new token each) are not recorded. Hooks are removed on exit.

    Yields:
        A dict ``layer -> tensor (batch, seq, d)`` filled by the first pass.
    """
    from harmscope.latent.hooks import HookSpec, find_layers, hooked, output_tensor

    blocks = find_layers(model)
    store: dict[int, Any] = {}

    def make(idx: int) -> Any:
        def hook(_module: Any, _args: Any, output: Any) -> None:
            if idx not in store:
                store[idx] = output_tensor(output).detach()

        return hook

    with hooked([HookSpec(blocks[i], make(i)) for i in layers]):
        yield store


def read_signals(
    probe: LatentProbe,
    hidden: dict[int, Any],
    *,
    inst: npt.ArrayLike,
    last: npt.ArrayLike,
) -> list[dict[str, float]]:
    """Signals of each row from block outputs ``(batch, seq, d)`` of one forward pass.

    Args:
        probe: The probe.
        hidden: Block outputs by layer (at least :attr:`LatentProbe.layers`).
        inst: Per-row index of t_inst.
        last: Per-row index of the prompt's last token.

    Raises:
        DataError: A needed layer was not captured.
    """
    missing = [layer for layer in probe.layers if layer not in hidden]
    if missing:
        raise DataError(f"layers {missing} were not captured")
    inst_idx = np.asarray(inst, dtype=np.int64)
    rows = np.arange(len(inst_idx))
    x = np.asarray(hidden[probe.guard.layer_].float().cpu().numpy())[rows, inst_idx]
    belief = probe.guard.proba_at_layer(x)
    cut = probe.guard.proba_threshold
    out = [{HARM_BELIEF: float(b), HARM_THRESHOLD: cut} for b in belief]
    ref = probe.refusal
    if ref is not None:
        pos = np.asarray(last, dtype=np.int64) + 1 + ref.position
        h = np.asarray(hidden[ref.layer].float().cpu().numpy())[rows, pos].astype(np.float64)
        proj: F64 = h @ ref.unit.astype(np.float64)
        for row, value in zip(out, proj, strict=True):
            row[REFUSAL_PROJECTION] = float(value)
            scaled = ref.rescale(float(value))
            if scaled is not None:
                row[REFUSAL] = scaled
    return out
