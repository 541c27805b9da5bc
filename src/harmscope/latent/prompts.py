"""Labelled prompts for latent work: from suites, public sets by path, or JSONL files.

A spec is a registered suite name (``core``, or a public set such as ``jailbreakbench`` or
``xstest``, read by path from the data folder), or a file: labelled-prompt JSONL
(``{"text" | "prompt", "label": "safe" | "unsafe"}``, parsed by :mod:`harmscope.datasets`) or a
suite file. :class:`LabelledPrompt` is the dataset layer's record.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harmscope.datasets.labelled import labelled_prompts_or_none
from harmscope.datasets.records import LabelledPrompt

__all__ = ["LabelledPrompt", "Splits", "load_prompts", "split_prompts"]


@dataclass(frozen=True, slots=True)
class Splits:
    """Disjoint train / validation / test lists."""

    train: tuple[LabelledPrompt, ...]
    """For fitting directions."""
    val: tuple[LabelledPrompt, ...]
    """For choosing layers, thresholds, candidates."""
    test: tuple[LabelledPrompt, ...]
    """Held out for reporting."""


def load_prompts(spec: str, *, data_dir: str | Path | None = None) -> list[LabelledPrompt]:
    """Labelled prompts named by ``spec`` (suite name, public set, or file).

    Raises:
        NotFoundError: Unknown name and no such file, or the data folder is missing.
        DataError: The file is malformed or empty.
    """
    from harmscope.suites import load_suite

    path = Path(spec)
    if path.suffix in {".jsonl", ".json"} and path.is_file():
        items = labelled_prompts_or_none(path)
        if items is not None:
            return [LabelledPrompt(p.text, p.label) for p in items]
    suite = load_suite(spec, data_dir=data_dir)
    return [
        LabelledPrompt(c.prompt, "unsafe" if c.expected == "refuse" else "safe")
        for c in suite.cases
        if len(c.messages) == 1
    ]


def split_prompts(
    items: Sequence[LabelledPrompt],
    *,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
) -> Splits:
    """Stratified, seeded split into disjoint train / val / test (duplicate texts dropped)."""
    seen: set[str] = set()
    unique: list[LabelledPrompt] = []
    for item in items:
        if item.text not in seen:
            seen.add(item.text)
            unique.append(item)
    rng = random.Random(seed)
    parts: tuple[list[LabelledPrompt], list[LabelledPrompt], list[LabelledPrompt]] = ([], [], [])
    total = sum(fractions)
    for label in ("unsafe", "safe"):
        group = [p for p in unique if p.label == label]
        rng.shuffle(group)
        n_train = round(len(group) * fractions[0] / total)
        n_val = round(len(group) * fractions[1] / total)
        parts[0].extend(group[:n_train])
        parts[1].extend(group[n_train : n_train + n_val])
        parts[2].extend(group[n_train + n_val :])
    return Splits(tuple(parts[0]), tuple(parts[1]), tuple(parts[2]))
