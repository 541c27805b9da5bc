"""Public safety sets, read by path from the data folder (``HARMSCOPE_DATA_DIR``).

Each set registers one suite. Rows are mapped to harmscope categories through the taxonomy's
crosswalk for the set's own scheme; sets without any category of their own (AdvBench, XSTest)
fall back to :data:`UNCATEGORISED`. Every case expects a refusal unless the set itself marks the
prompt as safe (XSTest ``safe`` rows, JailbreakBench benign behaviours).

A suite's version is a short hash of its source files, so an edited file gives a new version and
stored runs never mix two contents under one ``name@version``.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from harmscope.config import DATA_DIR_ENV, resolve_data_dir
from harmscope.errors import DataError, NotFoundError, UnknownCategoryError
from harmscope.records import Case, Expected
from harmscope.suites.base import Suite, registry
from harmscope.taxonomy import load_taxonomy

__all__ = [
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

HARMBENCH_CONTEXT_SEPARATOR = "\n\n---\n\n"
"""Between a contextual behaviour's context string and its request, as HarmBench lays it out."""

DataDir = str | Path | None


@dataclass(frozen=True, slots=True)
class _Row:
    """One source row mapped to harmscope terms (before the suite's source is known)."""

    key: str
    prompt: str
    category: str
    expected: Expected
    tags: dict[str, str]


RowMapper = Callable[[dict[str, str], str, int], _Row]
"""Maps a CSV row (with its ``file:line`` and 0-based index) to a :class:`_Row`."""


@dataclass(frozen=True, slots=True)
class _Part:
    """One source file of a suite and how to read its rows."""

    path: str
    columns: tuple[str, ...]
    mapper: RowMapper


def content_version(paths: Sequence[Path]) -> str:
    """First 12 hex digits of the sha256 of the files' bytes, in order."""
    digest = hashlib.sha256()
    for path in paths:
        data = path.read_bytes()
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:12]


def _dataset_folder(data_dir: DataDir, folder: str) -> Path:
    try:
        root = resolve_data_dir(data_dir)
    except NotFoundError as exc:
        message = str(exc)
        if DATA_DIR_ENV not in message:
            message += f"; set {DATA_DIR_ENV} (or --data-dir) to the public datasets folder"
        raise DataError(message) from None
    path = root / folder
    if not path.is_dir():
        raise DataError(f"{path}: no such dataset folder; {_setting_hint(data_dir, root)}")
    return path


def _setting_hint(data_dir: DataDir, root: Path) -> str:
    via = "--data-dir" if data_dir else DATA_DIR_ENV
    current = os.environ.get(DATA_DIR_ENV, "") if not data_dir else str(data_dir)
    return f"is {via} ({current or root}) the folder holding the public datasets?"


def _read_csv(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[dict[str, str], str]]:
    """Rows of a CSV file as dicts, each with its ``file:line`` (of the row's first line)."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in columns if c not in header]
            if missing:
                raise DataError(f"{path}:1: missing column(s) {', '.join(missing)}")
            start = reader.line_num + 1
            for row in reader:
                where = f"{path}:{start}"
                if None in row or any(v is None for v in row.values()):
                    raise DataError(f"{where}: expected {len(header)} fields")
                yield row, where
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from None


def _build(
    name: str, description: str, folder: str, parts: Sequence[_Part], data_dir: DataDir
) -> Suite:
    base = _dataset_folder(data_dir, folder)
    paths = [base / part.path for part in parts]
    for path in paths:
        if not path.is_file():
            root = base.parent
            raise DataError(f"{path}: no such file; {_setting_hint(data_dir, root)}")
    version = content_version(paths)
    source = f"{name}@{version}"
    cases: list[Case] = []
    seen: set[str] = set()
    for part, path in zip(parts, paths, strict=True):
        for index, (raw, where) in enumerate(_read_csv(path, part.columns)):
            row = part.mapper(raw, where, index)
            case_id = f"{name}.{row.key}"
            if case_id in seen:
                raise DataError(f"{where}: duplicate case id {case_id!r}")
            seen.add(case_id)
            cases.append(
                Case.from_prompt(
                    row.prompt,
                    id=case_id,
                    category=row.category,
                    expected=row.expected,
                    source=source,
                    tags=row.tags,
                )
            )
    if not cases:
        raise DataError(f"{paths[0]}: no rows")
    return Suite(name=name, version=version, description=description, cases=tuple(cases))


def _text(row: dict[str, str], column: str, where: str) -> str:
    value = row[column]
    if not value.strip():
        raise DataError(f"{where}: empty {column!r}")
    return value


def _category(scheme: str, code: str, where: str) -> str:
    try:
        return load_taxonomy().to_harmscope(scheme, code)[0].id
    except UnknownCategoryError as exc:
        raise DataError(f"{where}: {exc}") from None


def _extra(**tags: str) -> dict[str, str]:
    """Tags without empty values."""
    return {k: v.strip() for k, v in tags.items() if v.strip()}


# --- XSTest -------------------------------------------------------------------------------


def _xstest_category(kind: str) -> str:
    """XSTest has prompt types, not hazards; two type families name one."""
    if "privacy" in kind:
        return "privacy"
    if kind.endswith("discr"):
        return "hate"
    return UNCATEGORISED


def _xstest_row(row: dict[str, str], where: str, _: int) -> _Row:
    label = row["label"].strip()
    if label not in ("safe", "unsafe"):
        raise DataError(f"{where}: label must be 'safe' or 'unsafe', not {label!r}")
    return _Row(
        key=_text(row, "id", where).strip(),
        prompt=_text(row, "prompt", where),
        category=_xstest_category(_text(row, "type", where)),
        expected="refuse" if label == "unsafe" else "comply",
        tags=_extra(
            lang="en", kind=_text(row, "type", where), focus=row["focus"], note=row["note"]
        ),
    )


@registry.register("xstest")
def load_xstest(data_dir: DataDir = None) -> Suite:
    """XSTest: 250 safe look-alike prompts (comply) and 200 unsafe contrast prompts (refuse)."""
    return _build(
        "xstest",
        "XSTest over-refusal: safe prompts that look unsafe, and their unsafe contrasts",
        "xstest",
        [_Part("xstest_prompts.csv", ("id", "prompt", "type", "label"), _xstest_row)],
        data_dir,
    )


# --- JailbreakBench -------------------------------------------------------------------------


def _jbb_mapper(kind: str) -> RowMapper:
    def mapper(row: dict[str, str], where: str, _: int) -> _Row:
        return _Row(
            key=f"{kind}.{_text(row, 'Index', where).strip()}",
            prompt=_text(row, "Goal", where),
            category=_category("jailbreakbench", _text(row, "Category", where), where),
            expected="refuse" if kind == "harmful" else "comply",
            tags=_extra(lang="en", kind=kind, behavior=row["Behavior"], origin=row["Source"]),
        )

    return mapper


@registry.register("jailbreakbench")
def load_jailbreakbench(data_dir: DataDir = None) -> Suite:
    """JBB-Behaviors: 100 harmful behaviours (refuse) and 100 topic-matched benign ones."""
    columns = ("Index", "Goal", "Behavior", "Category", "Source")
    return _build(
        "jailbreakbench",
        "JailbreakBench behaviours: harmful requests and topic-matched benign ones",
        "jailbreakbench",
        [
            _Part("harmful-behaviors.csv", columns, _jbb_mapper("harmful")),
            _Part("benign-behaviors.csv", columns, _jbb_mapper("benign")),
        ],
        data_dir,
    )


# --- HarmBench ------------------------------------------------------------------------------


def _harmbench_row(row: dict[str, str], where: str, _: int) -> _Row:
    behavior = _text(row, "Behavior", where)
    context = row["ContextString"]  # kept verbatim, as HarmBench builds its prompts
    return _Row(
        key=_text(row, "BehaviorID", where).strip(),
        prompt=f"{context}{HARMBENCH_CONTEXT_SEPARATOR}{behavior}" if context.strip() else behavior,
        category=_category("harmbench", _text(row, "SemanticCategory", where), where),
        expected="refuse",
        tags=_extra(
            lang="en",
            functional=_text(row, "FunctionalCategory", where),
            harmbench_tags=row["Tags"],
        ),
    )


_HARMBENCH_COLUMNS = (
    "Behavior",
    "FunctionalCategory",
    "SemanticCategory",
    "Tags",
    "ContextString",
    "BehaviorID",
)


@registry.register("harmbench")
def load_harmbench(data_dir: DataDir = None) -> Suite:
    """HarmBench text behaviours (standard, contextual with their context, copyright)."""
    return _build(
        "harmbench",
        "HarmBench text behaviours: standard, contextual and copyright requests",
        "harmbench",
        [
            _Part(
                "data/behavior_datasets/harmbench_behaviors_text_all.csv",
                _HARMBENCH_COLUMNS,
                _harmbench_row,
            )
        ],
        data_dir,
    )


# --- AdvBench, StrongREJECT, SimpleSafetyTests ----------------------------------------------


def _advbench_row(row: dict[str, str], where: str, index: int) -> _Row:
    return _Row(str(index), _text(row, "goal", where), UNCATEGORISED, "refuse", {"lang": "en"})


@registry.register("advbench")
def load_advbench(data_dir: DataDir = None) -> Suite:
    """AdvBench harmful behaviours (no categories in the source)."""
    return _build(
        "advbench",
        "AdvBench harmful behaviours (uncategorised)",
        "advbench",
        [_Part("data/advbench/harmful_behaviors.csv", ("goal",), _advbench_row)],
        data_dir,
    )


def _strongreject_row(row: dict[str, str], where: str, index: int) -> _Row:
    return _Row(
        key=str(index),
        prompt=_text(row, "forbidden_prompt", where),
        category=_category("strongreject", _text(row, "category", where), where),
        expected="refuse",
        tags=_extra(lang="en", origin=row["source"]),
    )


@registry.register("strongreject")
def load_strongreject(data_dir: DataDir = None) -> Suite:
    """StrongREJECT forbidden prompts."""
    return _build(
        "strongreject",
        "StrongREJECT forbidden prompts in six categories",
        "strongreject",
        [
            _Part(
                "strongreject_dataset.csv",
                ("category", "source", "forbidden_prompt"),
                _strongreject_row,
            )
        ],
        data_dir,
    )


def _sst_row(row: dict[str, str], where: str, _: int) -> _Row:
    return _Row(
        key=_text(row, "id", where).strip(),
        prompt=_text(row, "prompts_final", where),
        category=_category("simplesafetytests", _text(row, "harm_area", where), where),
        expected="refuse",
        tags=_extra(lang="en", request_type=row["category"]),
    )


@registry.register("simplesafetytests")
def load_simplesafetytests(data_dir: DataDir = None) -> Suite:
    """SimpleSafetyTests: 100 clearly unsafe prompts in five harm areas."""
    return _build(
        "simplesafetytests",
        "SimpleSafetyTests: clearly unsafe prompts in five harm areas",
        "simplesafetytests",
        [
            _Part(
                "SimpleSafetyTests - test cases.csv",
                ("id", "harm_area", "category", "prompts_final"),
                _sst_row,
            )
        ],
        data_dir,
    )


# --- AILuminate -----------------------------------------------------------------------------


def _ailuminate_mapper(locale: str) -> RowMapper:
    def mapper(row: dict[str, str], where: str, _: int) -> _Row:
        if row["locale"].strip() != locale:
            raise DataError(f"{where}: locale {row['locale']!r}, expected {locale!r}")
        hazard = _text(row, "hazard", where).strip()
        return _Row(
            key=_text(row, "release_prompt_id", where).strip(),
            prompt=_text(row, "prompt_text", where),
            category=_category("ailuminate", hazard, where),
            expected="refuse",
            tags=_extra(
                lang=locale.split("_")[0], locale=locale, hazard=hazard, persona=row["persona"]
            ),
        )

    return mapper


_AILUMINATE_COLUMNS = ("release_prompt_id", "prompt_text", "hazard", "persona", "locale")


@registry.register("ailuminate")
def load_ailuminate(data_dir: DataDir = None) -> Suite:
    """MLCommons AILuminate v1.0 demo prompts, en_US."""
    return _build(
        "ailuminate",
        "MLCommons AILuminate v1.0 demo prompts (en_US) by hazard",
        "ailuminate-demo",
        [
            _Part(
                "airr_official_1.0_demo_en_us_prompt_set_release.csv",
                _AILUMINATE_COLUMNS,
                _ailuminate_mapper("en_US"),
            )
        ],
        data_dir,
    )


@registry.register("ailuminate_fr")
def load_ailuminate_fr(data_dir: DataDir = None) -> Suite:
    """MLCommons AILuminate v1.0 demo prompts, fr_FR."""
    return _build(
        "ailuminate_fr",
        "MLCommons AILuminate v1.0 demo prompts (fr_FR) by hazard",
        "ailuminate-demo",
        [
            _Part(
                "airr_official_1.0_demo_fr_fr_prompt_set_release.csv",
                _AILUMINATE_COLUMNS,
                _ailuminate_mapper("fr_FR"),
            )
        ],
        data_dir,
    )
