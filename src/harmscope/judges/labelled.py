"""Labelled responses, the ground truth a judge is measured against, by dataset name.

The readers live in the dataset layer (:mod:`harmscope.datasets.responses`); this module names
the sets ``load_dataset`` knows (``xstest``, ``harmbench-val``, the packaged ``checkset``) and
keeps the readers importable under their old path. :class:`LabelledItem` is the layer's
:class:`~harmscope.datasets.records.LabelledResponse`.
"""

from __future__ import annotations

from pathlib import Path

from harmscope.datasets.records import LabelledResponse
from harmscope.datasets.responses import (
    HARMBENCH_BEHAVIOURS,
    HARMBENCH_VAL,
    XSTEST_COMPLETIONS,
    data_path,
    parse_baseline_label,
    read_harmbench_val,
    read_jsonl,
    read_xstest_completions,
    xstest_files,
)
from harmscope.errors import DataError

__all__ = [
    "CHECKSET_PATH",
    "DATASETS",
    "HARMBENCH_VAL",
    "XSTEST_COMPLETIONS",
    "LabelledItem",
    "dataset_id",
    "load_dataset",
    "parse_baseline_label",
    "read_harmbench_val",
    "read_jsonl",
    "read_xstest_completions",
    "xstest_files",
]

CHECKSET_PATH = Path(__file__).parent / "data" / "checkset.jsonl"
"""harmscope's authored labelled check set (``load_dataset("checkset")``)."""
DATASETS = ("xstest", "harmbench-val", "checkset")
"""The labelled sets ``load_dataset`` knows by name."""
LabelledItem = LabelledResponse
"""One prompt/response pair with its human labels (the dataset layer's record)."""


def dataset_id(name: str | Path) -> str:
    """What training metadata calls labelled data: one of :data:`DATASETS`, else the file's path.

    A path to the packaged check set is ``checkset``.
    """
    text = str(name)
    if text in DATASETS:
        return text
    path = Path(text).expanduser().resolve()
    return "checkset" if path == CHECKSET_PATH.resolve() else str(path)


def load_dataset(name: str, data_dir: str | Path | None = None) -> list[LabelledItem]:
    """``xstest`` (all completion files), ``harmbench-val``, or a path to a labelled JSONL.

    Raises:
        DataError: The data is missing or malformed.
    """
    if name == "xstest":
        return [item for f in xstest_files(data_dir) for item in read_xstest_completions(f)]
    if name == "harmbench-val":
        path = data_path(data_dir, HARMBENCH_VAL)
        return read_harmbench_val(path, data_path(data_dir, HARMBENCH_BEHAVIOURS))
    if name == "checkset":
        return read_jsonl(CHECKSET_PATH)
    if not Path(name).exists():
        raise DataError(f"{name}: no such file (or use xstest, harmbench-val, checkset)")
    return read_jsonl(name)
