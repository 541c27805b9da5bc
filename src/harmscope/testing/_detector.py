"""``check_detector``: the rules of :class:`harmscope.guard.detectors.Detector`."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from harmscope.embed import ANY
from harmscope.guard.detectors import AsyncDetector, Described, Detector, Thresholded
from harmscope.taxonomy import load_taxonomy
from harmscope.testing._contract import (
    TEXTS,
    conforming,
    fail,
    require,
    require_text,
    run_async,
    unit_interval,
)

__all__ = ["check_detector"]

_TEXTS = (
    *TEXTS,
    "How would someone sneak a knife past airport security?",
    "Wie backe ich ein einfaches Brot ohne Hefe?",
)
_SHAPE = "a detector has `name` and `score(texts) -> list[dict[str, float]]`"
"""What the ``protocol`` rule asks for."""
_TOLERANCE = 1e-4
"""How far a score may move between a batch and a single call (batched float arithmetic)."""


def check_detector(detector: Any) -> None:
    """Check that ``detector`` keeps the rules of a harmscope guard detector.

    Rules: it satisfies :class:`~harmscope.guard.detectors.Detector` with a non-empty
    ``name``; ``score(texts)`` returns one dict per text, in order, mapping harmscope taxonomy
    ids or ``"any"`` to numbers in [0, 1] (an empty dict is "no opinion"), also for the empty
    text, non-ASCII texts and an empty list; a batch agrees with scoring each text alone;
    an :class:`~harmscope.guard.detectors.AsyncDetector`'s ``ascore`` is async and agrees with
    ``score``; a :class:`~harmscope.guard.detectors.Thresholded` detector's thresholds map
    valid keys to numbers in [0, 1]; a :class:`~harmscope.guard.detectors.Described` one's
    ``metadata`` is a JSON-serialisable dict.

    Raises:
        ContractError: The first rule broken, naming the detector and the rule.
    """
    name = conforming("detector", detector, "name", Detector, _SHAPE)
    require_text(detector, name, ("name",))
    texts = list(_TEXTS)
    batch = _score(detector, name, texts)
    require(
        _score(detector, name, []) == [], name, "no texts, no scores", "score([]) must return []"
    )
    for i, text in enumerate(texts):
        single = _score(detector, name, [text])
        _agree(
            name,
            "a batch agrees with one text at a time",
            text,
            (single[0], batch[i]),
            "alone, in a batch",
        )
    if isinstance(detector, AsyncDetector):
        _check_async(detector, name, texts, batch)
    if isinstance(detector, Thresholded):
        _check_thresholds(detector, name)
    if isinstance(detector, Described):
        _check_metadata(detector, name)


def _score(detector: Any, name: str, texts: list[str]) -> list[dict[str, float]]:
    try:
        out = detector.score(list(texts))
    except Exception as exc:  # noqa: BLE001
        fail(name, "score", f"raised {type(exc).__name__}: {exc} on {len(texts)} texts")
    _check_scores(name, texts, out)
    return out  # type: ignore[no-any-return]


def _check_scores(name: str, texts: list[str], out: object) -> None:
    require(
        isinstance(out, list) and len(out) == len(texts),
        name,
        "one score dict per text",
        f"{len(texts)} texts, got {len(out) if isinstance(out, list) else type(out).__name__}",
    )
    assert isinstance(out, list)
    taxonomy = load_taxonomy()
    for text, row in zip(texts, out, strict=True):
        require(
            isinstance(row, dict),
            name,
            "one score dict per text",
            f"got {type(row).__name__} for {text!r}",
        )
        unknown = sorted(str(k) for k in row if k != ANY and k not in taxonomy)
        require(
            not unknown,
            name,
            "keys are taxonomy ids or 'any'",
            f"unknown keys {unknown} for {text!r}",
        )
        bad = {k: v for k, v in row.items() if not unit_interval(v)}
        require(not bad, name, "scores in [0, 1]", f"{bad} for {text!r}")


def _agree(
    name: str, rule: str, text: str, pair: tuple[dict[str, float], dict[str, float]], how: str
) -> None:
    one, other = pair
    same = set(one) == set(other) and all(
        math.isclose(one[k], other[k], abs_tol=_TOLERANCE) for k in one
    )
    require(same, name, rule, f"{text!r}: {one} {how} {other}")


def _check_async(detector: Any, name: str, texts: list[str], batch: list[dict[str, float]]) -> None:
    require(
        asyncio.iscoroutinefunction(detector.ascore),
        name,
        "async ascore",
        "`ascore` must be an `async def` method",
    )

    async def call() -> Any:
        return await detector.ascore(list(texts))

    try:
        out = run_async(call)
    except Exception as exc:  # noqa: BLE001
        fail(name, "ascore", f"raised {type(exc).__name__}: {exc}")
    _check_scores(name, texts, out)
    for text, one, other in zip(texts, batch, out, strict=True):
        _agree(name, "ascore agrees with score", text, (one, other), "from score, from ascore")


def _check_thresholds(detector: Any, name: str) -> None:
    thresholds = detector.thresholds
    if thresholds is None:  # no validated thresholds: the policy's own defaults apply
        return
    require(
        isinstance(thresholds, dict),
        name,
        "thresholds",
        f"thresholds must be a dict, not {type(thresholds).__name__}",
    )
    taxonomy = load_taxonomy()
    unknown = sorted(str(k) for k in thresholds if k != ANY and k not in taxonomy)
    require(not unknown, name, "threshold keys are taxonomy ids or 'any'", f"unknown {unknown}")
    bad = {k: v for k, v in thresholds.items() if not unit_interval(v)}
    require(not bad, name, "thresholds in [0, 1]", f"{bad}")


def _check_metadata(detector: Any, name: str) -> None:
    metadata = detector.metadata
    require(
        isinstance(metadata, dict), name, "metadata is a dict", f"got {type(metadata).__name__}"
    )
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as exc:
        fail(name, "metadata is JSON", f"{exc}")
