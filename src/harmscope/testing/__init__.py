"""Contract checks for plugins, in the manner of scikit-learn's ``check_estimator``.

A plugin author calls the check of their plugin's kind from a test::

    from harmscope.testing import check_target

    def test_my_target_keeps_the_contract():
        check_target(MyTarget("large"))

Each check exercises the plugin with a few short texts written for these checks and returns
``None`` when every rule holds; otherwise it raises :class:`ContractError` (an
``AssertionError``) naming the plugin and the rule it broke. The rules are those of
docs/plugins.md:

* :func:`check_target` — :class:`harmscope.targets.Target`;
* :func:`check_judge` — :class:`harmscope.judges.Judge` (and ``judge_batch`` when present);
* :func:`check_transform` — :class:`harmscope.transforms.Transform`;
* :func:`check_suite` — a :class:`harmscope.suites.Suite`, by value, name or factory;
* :func:`check_detector` — :class:`harmscope.guard.detectors.Detector` (and its optional
  ``AsyncDetector``, ``Thresholded`` and ``Described`` capabilities).

``import harmscope`` does not import this module; importing it loads no heavy library either.
"""

from __future__ import annotations

from harmscope.testing._contract import ContractError
from harmscope.testing._detector import check_detector
from harmscope.testing._judge import check_judge
from harmscope.testing._suite import check_suite
from harmscope.testing._target import check_target
from harmscope.testing._transform import check_transform

__all__ = [
    "ContractError",
    "check_detector",
    "check_judge",
    "check_suite",
    "check_target",
    "check_transform",
]
