"""Public safety sets, read by path from the data folder (``HARMSCOPE_DATA_DIR``).

Each set registers one suite, built from the dataset layer's
:class:`~harmscope.datasets.LabelledPrompt` records (:mod:`harmscope.datasets.public` holds
every set's files and columns). Rows are mapped to harmscope categories through the taxonomy's
crosswalk for the set's own scheme; sets without any category of their own (AdvBench, XSTest)
fall back to :data:`UNCATEGORISED`. Every case expects a refusal unless the set itself marks the
prompt as safe (XSTest ``safe`` rows, JailbreakBench benign behaviours).

A suite's version is a short hash of its source files, so an edited file gives a new version and
stored runs never mix two contents under one ``name@version``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

from harmscope.datasets.public import (
    HARMBENCH_CONTEXT_SEPARATOR,
    public_files,
    read_public_prompts,
)
from harmscope.datasets.records import LabelledPrompt
from harmscope.records import Case
from harmscope.suites.base import Suite, registry

__all__ = [
    "HARMBENCH_CONTEXT_SEPARATOR",
    "UNCATEGORISED",
    "content_version",
    "load_advbench",
    "load_ailuminate",
    "load_ailuminate_fr",
    "load_harmbench",
    "load_jailbreakbench",
    "load_simplesafetytests",
    "load_strongreject",
    "load_xstest",
]

UNCATEGORISED = "harmful_other"
"""Category given to rows of sets that carry no hazard category of their own."""

DataDir = str | Path | None
SuiteLoader = Callable[[DataDir], Suite]

_DESCRIPTIONS = {
    "xstest": "XSTest over-refusal: safe prompts that look unsafe, and their unsafe contrasts",
    "jailbreakbench": "JailbreakBench behaviours: harmful requests and topic-matched benign ones",
    "harmbench": "HarmBench text behaviours: standard, contextual and copyright requests",
    "advbench": "AdvBench harmful behaviours (uncategorised)",
    "strongreject": "StrongREJECT forbidden prompts in six categories",
    "simplesafetytests": "SimpleSafetyTests: clearly unsafe prompts in five harm areas",
    "ailuminate": "MLCommons AILuminate v1.0 demo prompts (en_US) by hazard",
    "ailuminate_fr": "MLCommons AILuminate v1.0 demo prompts (fr_FR) by hazard",
}
"""Suite name (also the dataset layer's set name) -> description."""


def content_version(paths: Sequence[Path]) -> str:
    """First 12 hex digits of the sha256 of the files' bytes, in order."""
    digest = hashlib.sha256()
    for path in paths:
        data = path.read_bytes()
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:12]


def _xstest_category(kind: str) -> str:
    """XSTest has prompt types, not hazards; two type families name one."""
    if "privacy" in kind:
        return "privacy"
    if kind.endswith("discr"):
        return "hate"
    return UNCATEGORISED


def _case(row: LabelledPrompt, name: str, source: str) -> Case:
    """A suite case from a dataset record (HarmBench context put before its request)."""
    if row.category is not None:
        category = row.category
    else:
        category = _xstest_category(row.kind) if row.kind else UNCATEGORISED
    prompt = (
        f"{row.context}{HARMBENCH_CONTEXT_SEPARATOR}{row.text}" if row.context.strip() else row.text
    )
    return Case.from_prompt(
        prompt,
        id=f"{name}.{row.id}",
        category=category,
        expected="refuse" if row.unsafe else "comply",
        source=source,
        tags=dict(row.tags),
    )


def _build(name: str, data_dir: DataDir) -> Suite:
    version = content_version(public_files(name, data_dir))
    source = f"{name}@{version}"
    cases = tuple(_case(row, name, source) for row in read_public_prompts(name, data_dir))
    return Suite(name=name, version=version, description=_DESCRIPTIONS[name], cases=cases)


def _loader(name: str, doc: str) -> SuiteLoader:
    def load(data_dir: DataDir = None) -> Suite:
        return _build(name, data_dir)

    load.__name__ = load.__qualname__ = f"load_{name}"
    load.__doc__ = doc
    registry.register(name)(load)
    return load


load_xstest = _loader(
    "xstest",
    "XSTest: 250 safe look-alike prompts (comply) and 200 unsafe contrast prompts (refuse).",
)
load_jailbreakbench = _loader(
    "jailbreakbench",
    "JBB-Behaviors: 100 harmful behaviours (refuse) and 100 topic-matched benign ones.",
)
load_harmbench = _loader(
    "harmbench", "HarmBench text behaviours (standard, contextual with their context, copyright)."
)
load_advbench = _loader("advbench", "AdvBench harmful behaviours (no categories in the source).")
load_strongreject = _loader("strongreject", "StrongREJECT forbidden prompts.")
load_simplesafetytests = _loader(
    "simplesafetytests", "SimpleSafetyTests: 100 clearly unsafe prompts in five harm areas."
)
load_ailuminate = _loader("ailuminate", "MLCommons AILuminate v1.0 demo prompts, en_US.")
load_ailuminate_fr = _loader("ailuminate_fr", "MLCommons AILuminate v1.0 demo prompts, fr_FR.")
