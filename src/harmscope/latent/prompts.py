"""Labelled prompts for latent work: from suites, public sets by path, or JSONL files.

A spec is a registered suite name (``core``...), one of the public sets read here by path from
the data folder (``jailbreakbench``, ``xstest``), or a file: labelled-prompt JSONL
(``{"text" | "prompt", "label": "safe" | "unsafe"}``) or a suite file.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harmscope.datasets import load_json_line, read_lines
from harmscope.errors import DataError, NotFoundError

__all__ = ["LabelledPrompt", "Splits", "load_prompts", "split_prompts"]

Label = Literal["safe", "unsafe"]


@dataclass(frozen=True, slots=True)
class LabelledPrompt:
    """One user instruction and whether it is a harmful request."""

    text: str
    """The instruction."""
    label: Label
    """``unsafe`` for a harmful request, ``safe`` otherwise."""


@dataclass(frozen=True, slots=True)
class Splits:
    """Disjoint train / validation / test lists."""

    train: tuple[LabelledPrompt, ...]
    """For fitting directions."""
    val: tuple[LabelledPrompt, ...]
    """For choosing layers, thresholds, candidates."""
    test: tuple[LabelledPrompt, ...]
    """Held out for reporting."""


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise NotFoundError(f"{path} not found (is the data folder set?)")
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _jailbreakbench(root: Path) -> list[LabelledPrompt]:
    base = root / "jailbreakbench"
    harmful = [
        LabelledPrompt(r["Goal"], "unsafe") for r in _read_csv(base / "harmful-behaviors.csv")
    ]
    benign = [LabelledPrompt(r["Goal"], "safe") for r in _read_csv(base / "benign-behaviors.csv")]
    return harmful + benign


def _xstest(root: Path) -> list[LabelledPrompt]:
    rows = _read_csv(root / "xstest" / "xstest_prompts.csv")
    return [
        LabelledPrompt(r["prompt"], "unsafe" if r["label"] == "unsafe" else "safe") for r in rows
    ]


_PUBLIC = {"jailbreakbench": _jailbreakbench, "xstest": _xstest}


def _labelled_jsonl(path: Path) -> list[LabelledPrompt] | None:
    """Labelled-prompt lines, or None when the file holds suite case lines instead."""
    items: list[LabelledPrompt] = []
    for lineno, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        row = load_json_line(line, f"{path}:{lineno}")
        if "label" not in row:
            return None
        text = row.get("text", row.get("prompt"))
        if not isinstance(text, str) or row["label"] not in ("safe", "unsafe"):
            raise DataError(f"{path}:{lineno}: needs a text and a label safe|unsafe")
        items.append(LabelledPrompt(text, row["label"]))
    return items


def load_prompts(spec: str, *, data_dir: str | Path | None = None) -> list[LabelledPrompt]:
    """Labelled prompts named by ``spec`` (suite name, public set, or file).

    Raises:
        NotFoundError: Unknown name and no such file, or the data folder is missing.
        DataError: The file is malformed or empty.
    """
    from harmscope.config import resolve_data_dir
    from harmscope.suites import load_suite, registry

    path = Path(spec)
    if path.suffix in {".jsonl", ".json"} and path.is_file():
        items = _labelled_jsonl(path)
        if items is not None:
            if not items:
                raise DataError(f"{path}: no prompts")
            return items
    elif spec not in registry and spec in _PUBLIC:
        return _PUBLIC[spec](resolve_data_dir(data_dir))
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
