"""Public prompt sets read by path from the data folder (``HARMSCOPE_DATA_DIR``).

Each set is one :class:`PublicSet` row of :data:`PUBLIC_PROMPT_SETS`: its folder, its files and,
per file, which columns hold the id, text, label, category (and the taxonomy scheme that maps
it), prompt type, context and extra tags. One generic reader turns any of them into
:class:`~harmscope.datasets.records.LabelledPrompt` records, with errors naming ``file:line``.
Sets without any category of their own (AdvBench, XSTest) give ``category=None``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harmscope.config import DATA_DIR_ENV, resolve_data_dir
from harmscope.datasets.csvfile import read_csv
from harmscope.datasets.records import Label, LabelledPrompt
from harmscope.errors import DataError, NotFoundError, UnknownCategoryError
from harmscope.taxonomy import load_taxonomy

__all__ = [
    "HARMBENCH_CONTEXT_SEPARATOR",
    "PUBLIC_PROMPT_SETS",
    "PublicFile",
    "PublicSet",
    "public_files",
    "read_public_prompts",
]

DataDir = str | Path | None

HARMBENCH_CONTEXT_SEPARATOR = "\n\n---\n\n"
"""Between a contextual behaviour's context string and its request, as HarmBench lays it out."""


@dataclass(frozen=True, slots=True)
class PublicFile:
    """One CSV file of a public set and the columns each record field is read from."""

    path: str
    """Relative to the set's folder."""
    text: str
    """Column of the prompt text."""
    id: str | None = None
    """Column of the row id; ``None`` numbers rows from 0."""
    id_prefix: str = ""
    """Put before every id (to keep ids of a set's files apart)."""
    label: str | None = None
    """Column holding ``safe`` / ``unsafe``; ``None``: every row is :attr:`fixed_label`."""
    fixed_label: Label = "unsafe"
    """The label of every row when :attr:`label` is ``None``."""
    scheme: str | None = None
    """Taxonomy crosswalk scheme of :attr:`category`."""
    category: str | None = None
    """Column of the set's own category (mapped through :attr:`scheme`)."""
    kind: str | None = None
    """Column of the prompt type (also tagged ``kind``)."""
    context: str | None = None
    """Column of a context string the request refers to (kept verbatim)."""
    locale: str | None = None
    """Expected value of the ``locale`` column; also gives the language."""
    tags: tuple[tuple[str, str], ...] = ()
    """``(tag, column)``: extra tags, left out where the value is empty."""
    fixed_tags: tuple[tuple[str, str], ...] = ()
    """``(tag, value)`` given to every row."""
    required: tuple[str, ...] = ()
    """Tag columns that must not be empty."""

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the file must have."""
        named = (self.id, self.text, self.label, self.category, self.kind, self.context)
        locale = ("locale",) if self.locale else ()
        found = [c for c in named if c] + [c for _, c in self.tags] + list(locale)
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class PublicSet:
    """A public set: its folder under the data folder and its files, in reading order."""

    folder: str
    """Folder under the data folder."""
    files: tuple[PublicFile, ...]
    """Its files."""


def _jbb(name: str, kind: str, label: Label) -> PublicFile:
    return PublicFile(
        name,
        "Goal",
        id="Index",
        id_prefix=f"{kind}.",
        fixed_label=label,
        scheme="jailbreakbench",
        category="Category",
        tags=(("behavior", "Behavior"), ("origin", "Source")),
        fixed_tags=(("kind", kind),),
    )


def _ailuminate(locale: str) -> PublicSet:
    name = f"airr_official_1.0_demo_{locale.lower()}_prompt_set_release.csv"
    tags = (("locale", "locale"), ("hazard", "hazard"), ("persona", "persona"))
    file = PublicFile(
        name,
        "prompt_text",
        id="release_prompt_id",
        scheme="ailuminate",
        category="hazard",
        locale=locale,
        tags=tags,
    )
    return PublicSet("ailuminate-demo", (file,))


PUBLIC_PROMPT_SETS: dict[str, PublicSet] = {
    "xstest": PublicSet(
        "xstest",
        (
            PublicFile(
                "xstest_prompts.csv",
                "prompt",
                id="id",
                label="label",
                kind="type",
                tags=(("focus", "focus"), ("note", "note")),
            ),
        ),
    ),
    "jailbreakbench": PublicSet(
        "jailbreakbench",
        (
            _jbb("harmful-behaviors.csv", "harmful", "unsafe"),
            _jbb("benign-behaviors.csv", "benign", "safe"),
        ),
    ),
    "harmbench": PublicSet(
        "harmbench",
        (
            PublicFile(
                "data/behavior_datasets/harmbench_behaviors_text_all.csv",
                "Behavior",
                id="BehaviorID",
                scheme="harmbench",
                category="SemanticCategory",
                context="ContextString",
                tags=(("functional", "FunctionalCategory"), ("harmbench_tags", "Tags")),
                required=("FunctionalCategory",),
            ),
        ),
    ),
    "advbench": PublicSet("advbench", (PublicFile("data/advbench/harmful_behaviors.csv", "goal"),)),
    "strongreject": PublicSet(
        "strongreject",
        (
            PublicFile(
                "strongreject_dataset.csv",
                "forbidden_prompt",
                scheme="strongreject",
                category="category",
                tags=(("origin", "source"),),
            ),
        ),
    ),
    "simplesafetytests": PublicSet(
        "simplesafetytests",
        (
            PublicFile(
                "SimpleSafetyTests - test cases.csv",
                "prompts_final",
                id="id",
                scheme="simplesafetytests",
                category="harm_area",
                tags=(("request_type", "category"),),
            ),
        ),
    ),
    "ailuminate": _ailuminate("en_US"),
    "ailuminate_fr": _ailuminate("fr_FR"),
}
"""Every public prompt set by name."""


def _setting_hint(data_dir: DataDir, root: Path) -> str:
    via = "--data-dir" if data_dir else DATA_DIR_ENV
    current = os.environ.get(DATA_DIR_ENV, "") if not data_dir else str(data_dir)
    return f"is {via} ({current or root}) the folder holding the public datasets?"


def _spec(name: str) -> PublicSet:
    try:
        return PUBLIC_PROMPT_SETS[name]
    except KeyError:
        known = ", ".join(PUBLIC_PROMPT_SETS)
        raise NotFoundError(f"unknown public set {name!r}; known: {known}") from None


def public_files(name: str, data_dir: DataDir = None) -> list[Path]:
    """The files of public set ``name``, in reading order, each checked to exist.

    Raises:
        NotFoundError: Unknown set name.
        DataError: No data folder, or the set's folder or a file is missing (with a hint).
    """
    spec = _spec(name)
    try:
        root = resolve_data_dir(data_dir)
    except NotFoundError as exc:
        message = str(exc)
        if DATA_DIR_ENV not in message:
            message += f"; set {DATA_DIR_ENV} (or --data-dir) to the public datasets folder"
        raise DataError(message) from None
    base = root / spec.folder
    if not base.is_dir():
        raise DataError(f"{base}: no such dataset folder; {_setting_hint(data_dir, root)}")
    paths = [base / part.path for part in spec.files]
    for path in paths:
        if not path.is_file():
            raise DataError(f"{path}: no such file; {_setting_hint(data_dir, root)}")
    return paths


def _text(row: dict[str, str], column: str, where: str) -> str:
    value = row[column]
    if not value.strip():
        raise DataError(f"{where}: empty {column!r}")
    return value


def _category(scheme: str | None, code: str, where: str) -> str:
    try:
        return load_taxonomy().to_harmscope(scheme or "", code.strip())[0].id
    except UnknownCategoryError as exc:
        raise DataError(f"{where}: {exc}") from None


def _label(part: PublicFile, row: dict[str, str], where: str) -> Label:
    if part.label is None:
        return part.fixed_label
    label = row[part.label].strip()
    if label == "safe":
        return "safe"
    if label == "unsafe":
        return "unsafe"
    raise DataError(f"{where}: label must be 'safe' or 'unsafe', not {label!r}")


def _lang(part: PublicFile, row: dict[str, str], where: str) -> str:
    if part.locale is None:
        return "en"
    if row["locale"].strip() != part.locale:
        raise DataError(f"{where}: locale {row['locale']!r}, expected {part.locale!r}")
    return part.locale.split("_")[0]


def _prompt(
    name: str, part: PublicFile, row: dict[str, str], where: str, index: int
) -> LabelledPrompt:
    """One CSV row as a record (see :class:`PublicFile` for which column gives what)."""
    lang = _lang(part, row, where)
    label = _label(part, row, where)
    key = _text(row, part.id, where).strip() if part.id else str(index)
    text = _text(row, part.text, where)
    category = (
        _category(part.scheme, _text(row, part.category, where), where) if part.category else None
    )
    kind = _text(row, part.kind, where).strip() if part.kind else None
    for column in part.required:
        _text(row, column, where)
    raw = {"lang": lang, **dict(part.fixed_tags), **({"kind": kind} if kind else {})}
    raw.update({tag: row[column] for tag, column in part.tags})
    return LabelledPrompt(
        text=text,
        label=label,
        category=category,
        source=name,
        id=part.id_prefix + key,
        lang=lang,
        kind=kind,
        context=row[part.context] if part.context else "",
        tags={k: v.strip() for k, v in raw.items() if v.strip()},
    )


def read_public_prompts(name: str, data_dir: DataDir = None) -> list[LabelledPrompt]:
    """Every row of public set ``name`` as a :class:`LabelledPrompt`, in file order.

    Args:
        name: A key of :data:`PUBLIC_PROMPT_SETS`.
        data_dir: Folder of the public sets; defaults to ``$HARMSCOPE_DATA_DIR``.

    Raises:
        NotFoundError: Unknown set name.
        DataError: Missing files or columns, an empty field, an unknown label, locale or
            category, a duplicate id, or no rows; the message names the file and line.
    """
    spec = _spec(name)
    paths = public_files(name, data_dir)
    rows: list[LabelledPrompt] = []
    seen: set[str] = set()
    for part, path in zip(spec.files, paths, strict=True):
        for index, (raw, where) in enumerate(read_csv(path, part.columns)):
            row = _prompt(name, part, raw, where, index)
            if row.id in seen:
                raise DataError(f"{where}: duplicate id {row.id!r}")
            seen.add(row.id)
            rows.append(row)
    if not rows:
        raise DataError(f"{paths[0]}: no rows")
    return rows
