"""Optional detector capabilities are protocols: a plain object takes the fallback path."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from harmscope.guard import ANY, Guard
from harmscope.guard.detectors import (
    AsyncDetector,
    CalibratedProbe,
    Described,
    FittedProbe,
    LatentDetector,
    Thresholded,
    ascore,
    metadata_of,
    thresholds_of,
)


class Plain:
    name = "plain"

    def __init__(self) -> None:
        self.threads: list[str] = []

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        self.threads.append(threading.current_thread().name)
        return [{ANY: 0.1} for _ in texts]


class Native(Plain):
    name = "native"
    thresholds = {ANY: 0.05}
    metadata = {"trained_on": ["x"]}

    async def ascore(self, texts: list[str]) -> list[dict[str, float]]:
        return [{ANY: 0.9} for _ in texts]


def test_ascore_uses_a_thread_without_ascore_and_the_native_path_with_it() -> None:
    plain, native = Plain(), Native()
    assert not isinstance(plain, AsyncDetector) and isinstance(native, AsyncDetector)
    assert asyncio.run(ascore(plain, ["a"])) == [{ANY: 0.1}]
    assert plain.threads and plain.threads[0] != threading.main_thread().name
    assert asyncio.run(ascore(native, ["a"])) == [{ANY: 0.9}]
    assert native.threads == [], "a native ascore needs no thread"


def test_thresholds_and_metadata_only_from_objects_that_have_them() -> None:
    plain, native = Plain(), Native()
    assert not isinstance(plain, Thresholded) and isinstance(native, Thresholded)
    assert thresholds_of(plain) == {} and thresholds_of(native) == {ANY: 0.05}
    assert not isinstance(plain, Described) and isinstance(native, Described)
    assert metadata_of(plain) is None and metadata_of(native) == {"trained_on": ["x"]}
    assert Guard([plain]).policy.any_threshold != 0.05
    assert Guard([native]).policy.any_threshold == 0.05


class RawProbe:
    def score(self, texts: list[str]) -> Any:
        return [2.0 for _ in texts]


class Fitted(RawProbe):
    threshold_ = 1.0


class Calibrated(Fitted):
    calib_ = (1.0, -1.0)


def test_probe_capabilities_choose_threshold_and_calibration() -> None:
    raw, fitted, calibrated = RawProbe(), Fitted(), Calibrated()
    assert not isinstance(raw, FittedProbe) and isinstance(fitted, FittedProbe)
    assert not isinstance(fitted, CalibratedProbe) and isinstance(calibrated, CalibratedProbe)
    plain = LatentDetector(raw)
    assert plain.threshold is None and plain.thresholds == {}
    assert plain.score(["a"]) == [{ANY: 1.0}], "no threshold: clipped to [0, 1]"
    with_threshold = LatentDetector(fitted)
    assert with_threshold.threshold == 1.0 and with_threshold.thresholds == {}
    assert 0.7 < with_threshold.score(["a"])[0][ANY] < 0.75, "logistic around threshold_"
    assert LatentDetector(calibrated).thresholds == {ANY: 0.5}
