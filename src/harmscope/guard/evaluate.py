"""Evaluate a guard on labelled texts: detection metrics, over-blocking, latency, a card.

``evaluate_guard(guard, {"xstest": rows, ...})`` returns per-set results with ``n``,
``accuracy``, ``precision``, ``recall``, ``f1``, ``fpr``, ``auprc`` (average precision of the
overall unsafe score), ``over_blocking`` (share of safe texts flagged) and latency per text.
``fpr`` and ``over_blocking`` are ``None`` (JSON ``null``) for a set without safe texts, and
``auprc`` for a set with one class only: there is nothing to measure, which is not zero.

Over-blocking on look-alikes: where safe rows carry a prompt type (XSTest's ``type``, the
core suite's ``kind``; see :mod:`harmscope.guard.data`), ``over_blocking_lookalike`` is the
share of those safe look-alike texts flagged, and ``over_blocking_by_type`` gives
``{"n", "flagged", "rate"}`` per type. Public set names read the held-out ``test`` split
(XSTest and ``core`` whole).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer

from harmscope.guard.data import PUBLIC_SETS, LabelledText, load_labelled_file, load_public_set
from harmscope.guard.detectors import ANY
from harmscope.guard.engine import Guard
from harmscope.metrics.classification import BinaryMetrics, binary_metrics, ratio
from harmscope.metrics.ranking import average_precision

__all__ = [
    "DetectionMetrics",
    "GuardEvaluation",
    "LookalikeCount",
    "OverallResult",
    "SetResult",
    "average_precision",
    "detection_metrics",
    "evaluate_guard",
    "guard_evaluation",
    "load_eval_data",
    "render_card",
    "write_card",
]


class DetectionMetrics(BinaryMetrics):
    """Detection metrics of one labelled set (unsafe = positive), with the ranking's AUPRC.

    Every ratio is ``None`` where it is undefined (no predicted positives for precision, one
    class only for AUPRC): there is nothing to measure, which is not zero.
    """

    auprc: float | None = None
    """Average precision of the scores; ``None`` when the set has one class only."""


def detection_metrics(
    labels: Sequence[bool], predictions: Sequence[bool], scores: Sequence[float] | None = None
) -> DetectionMetrics:
    """:func:`~harmscope.metrics.classification.binary_metrics` and the AUPRC of ``scores``."""
    core = binary_metrics(labels, predictions)
    return DetectionMetrics(
        **core.model_dump(exclude={"fpr"}),
        auprc=average_precision(labels, scores) if scores is not None else None,
    )


def load_eval_data(spec: str) -> tuple[str, list[LabelledText]]:
    """A labelled set by public name (held-out ``test`` split) or JSONL path.

    Raises:
        NotFoundError: Unknown public set or missing files.
        DataError: Malformed JSONL file.
    """
    if spec in PUBLIC_SETS or spec == "jailbreakbench":  # includes "core"
        return spec, load_public_set(spec, split="test")
    path = Path(spec)
    return path.stem, load_labelled_file(path)


class OverallResult(DetectionMetrics):
    """Metrics over every set together, and latency per text."""

    latency_ms_per_text: float


class LookalikeCount(BaseModel):
    """Safe look-alike texts of one type: how many, how many flagged, the rate."""

    n: int
    flagged: int
    rate: float


class SetResult(DetectionMetrics):
    """Metrics of one set, over-blocking (overall and on look-alikes) and latency per text."""

    over_blocking: float | None
    over_blocking_lookalike: float | None
    over_blocking_by_type: dict[str, LookalikeCount]
    latency_ms_per_text: float


class GuardEvaluation(BaseModel):
    """A guard's evaluation; dumped flat, as ``guard eval --json`` prints it.

    The dump carries the overall metrics at the top level beside ``guard``, ``sets`` and
    ``overall`` (no overall metrics and no ``overall`` when there were no texts).
    """

    guard: str
    sets: dict[str, SetResult]
    overall: OverallResult | None = None

    @model_serializer(mode="wrap")
    def _flatten(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("overall") is None:
            data.pop("overall", None)
            return data
        return {**data["overall"], **data}

    def nested(self) -> dict[str, Any]:
        """The result as :func:`evaluate_guard` returns it (what the card reads)."""
        out: dict[str, Any] = {
            "guard": self.guard,
            "sets": {name: r.model_dump(mode="json") for name, r in self.sets.items()},
        }
        if self.overall is not None:
            out["overall"] = self.overall.model_dump(mode="json")
        return out


async def guard_evaluation(
    guard: Guard, sets: Mapping[str, Sequence[LabelledText]], *, batch_size: int = 64
) -> GuardEvaluation:
    """Run the guard over each labelled set; its metrics per set and over every set."""
    results: dict[str, SetResult] = {}
    all_y: list[bool] = []
    all_p: list[bool] = []
    all_s: list[float] = []
    total_time = 0.0
    for name, rows in sets.items():
        texts = [r.text for r in rows]
        start = time.perf_counter()
        decisions = []
        for i in range(0, len(texts), batch_size):
            decisions += await guard.check(texts[i : i + batch_size])
        elapsed = time.perf_counter() - start
        total_time += elapsed
        y = [r.unsafe for r in rows]
        p = [d.flagged for d in decisions]
        s = [d.scores.get(ANY, max(d.scores.values(), default=0.0)) for d in decisions]
        safe = [d.flagged for d, r in zip(decisions, rows, strict=True) if not r.unsafe]
        results[name] = SetResult(
            **detection_metrics(y, p, s).model_dump(exclude={"fpr"}),
            over_blocking=ratio(sum(safe), len(safe)),
            **lookalike_over_blocking(rows, p),
            latency_ms_per_text=1000 * elapsed / len(rows) if rows else 0.0,
        )
        all_y += y
        all_p += p
        all_s += s
    overall = None
    if all_y:
        overall = OverallResult(
            **detection_metrics(all_y, all_p, all_s).model_dump(exclude={"fpr"}),
            latency_ms_per_text=1000 * total_time / len(all_y),
        )
    return GuardEvaluation(guard=guard.name, sets=results, overall=overall)


async def evaluate_guard(
    guard: Guard, sets: Mapping[str, Sequence[LabelledText]], *, batch_size: int = 64
) -> dict[str, Any]:
    """:func:`guard_evaluation` as nested JSON data (what the card reads).

    Returns:
        ``{"guard", "sets": {name: {metrics..., "over_blocking", "latency_ms_per_text"}},
        "overall": {...}}``.
    """
    return (await guard_evaluation(guard, sets, batch_size=batch_size)).nested()


def lookalike_over_blocking(
    rows: Sequence[LabelledText], flagged: Sequence[bool]
) -> dict[str, Any]:
    """Over-blocking on safe rows that carry a look-alike type, overall and per type.

    Returns ``{"over_blocking_lookalike": rate | None, "over_blocking_by_type": {type: {"n",
    "flagged", "rate"}}}`` (empty by-type and ``None`` when no safe row has a type).
    """
    by_type: dict[str, dict[str, Any]] = {}
    for row, flag in zip(rows, flagged, strict=True):
        if row.unsafe or not row.kind:
            continue
        entry = by_type.setdefault(row.kind, {"n": 0, "flagged": 0})
        entry["n"] += 1
        entry["flagged"] += int(flag)
    for entry in by_type.values():
        entry["rate"] = entry["flagged"] / entry["n"]
    n = sum(e["n"] for e in by_type.values())
    rate = sum(e["flagged"] for e in by_type.values()) / n if n else None
    return {"over_blocking_lookalike": rate, "over_blocking_by_type": dict(sorted(by_type.items()))}


def render_card(result: Mapping[str, Any], *, metadata: Mapping[str, Any] | None = None) -> str:
    """A Markdown guard card: what the guard is, how it was trained, how it scores."""
    lines = [f"# Guard card: {result.get('guard', 'guard')}", ""]
    if metadata:
        training = metadata.get("training", {})
        lines += [
            "## Model",
            f"- Embedder: `{metadata.get('embedder')}`; heads: {', '.join(metadata['labels'])}",
            f"- Trained on: {', '.join(training.get('train_sets', []))} (train split only)",
            f"- Held out: {training.get('held_out', '')}",
            f"- Command: `{training.get('command', '')}`",
            "",
        ]
    lines += [
        "## Results (held-out data)",
        "",
        "| set | n | precision | recall | F1 | FPR | AUPRC | over-blocking | ms/text |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def fmt(v: Any) -> str:
        return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    rows = dict(result.get("sets", {}))
    if "overall" in result:
        rows["overall"] = result["overall"]
    for name, m in rows.items():
        lines.append(
            f"| {name} | {m['n']} | {fmt(m['precision'])} | {fmt(m['recall'])} | "
            f"{fmt(m['f1'])} | {fmt(m['fpr'])} | {fmt(m['auprc'])} | "
            f"{fmt(m.get('over_blocking'))} | {m['latency_ms_per_text']:.1f} |"
        )
    for name, m in rows.items():
        by_type = m.get("over_blocking_by_type") or {}
        if by_type:
            lines += ["", f"### Over-blocking on {name}'s look-alike safe prompts, by type", ""]
            lines += ["| type | n | flagged | rate |", "|---|---|---|---|"]
            lines += [
                f"| {t} | {e['n']} | {e['flagged']} | {e['rate']:.3f} |" for t, e in by_type.items()
            ]
    lines += [
        "",
        "Positive class: unsafe. Over-blocking: share of safe texts flagged. Latency measured "
        "in process, batches of 64, CPU.",
    ]
    return "\n".join(lines) + "\n"


def write_card(
    result: Mapping[str, Any], path: str | Path, *, metadata: Mapping[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write the card as ``<path>.md`` and ``<path>.json``; returns both paths."""
    base = Path(path)
    base = base.with_suffix("") if base.suffix in {".md", ".json"} else base
    md, js = base.with_suffix(".md"), base.with_suffix(".json")
    md.write_text(render_card(result, metadata=metadata), "utf-8")
    js.write_text(
        json.dumps({"result": result, "metadata": metadata or {}}, indent=1) + "\n", "utf-8"
    )
    return md, js
