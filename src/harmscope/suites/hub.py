"""Suites from Hugging Face hub datasets: ``hf:<dataset id>[:split][:refuse|:comply]``.

With the ``datasets`` library installed, the split is loaded through it. Otherwise the dataset's
JSONL, CSV, JSON or (with pyarrow) Parquet files for the split are fetched with
``huggingface_hub``. Each row becomes a case: the text comes from the first of
:data:`TEXT_COLUMNS` present, ``label`` (safe/unsafe, benign/harmful, 0/1) sets the expected
behaviour, and ``category`` is mapped through the taxonomy when it is a harmscope id, a
``scheme:code`` or a code of any crosswalked scheme.

Nothing is guessed: a category code found in no crosswalk is an error naming the code and the
row, and so is a row without a label unless the spec's third field (``hf:org/set::refuse``,
``hf:org/set:test:comply``) says what unlabelled rows expect. Rows without a category are
``unspecified``.

Reaching the hub fails fast: a short timeout, and no network at all when ``HF_HUB_OFFLINE`` is
set (then only a cached copy is used).
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import importlib.util
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harmscope.datasets.jsonl import load_json_line
from harmscope.errors import DataError, HarmscopeError, MissingDependencyError
from harmscope.records import Case, Expected
from harmscope.suites.base import Suite
from harmscope.taxonomy import SCHEMES, load_taxonomy

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "TEXT_COLUMNS",
    "HubSpec",
    "load_hub_suite",
    "parse_hub_spec",
    "suite_from_rows",
]

DEFAULT_TIMEOUT_S = 5.0
"""Seconds to wait for the hub before giving up."""

TEXT_COLUMNS = ("prompt", "text", "goal", "behavior", "forbidden_prompt", "prompt_text", "question")
"""Columns tried, in order and ignoring case, for a row's prompt."""

_UNSAFE = {"unsafe", "harmful", "1", "true", "yes", "toxic"}
_SAFE = {"safe", "benign", "harmless", "0", "false", "no"}
_FORMATS = (".parquet", ".jsonl", ".csv", ".json")
_REPO_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")
UNSPECIFIED = "unspecified"
"""Category of rows that carry none (as for labelled-prompt files)."""


@dataclass(frozen=True, slots=True)
class HubSpec:
    """A parsed ``hf:<dataset id>[:split][:refuse|:comply]``."""

    repo_id: str
    split: str | None
    expected: Expected | None = None
    """What rows without a label expect; ``None`` makes an unlabelled row an error."""

    @property
    def name(self) -> str:
        """The suite name: the spec itself."""
        name = f"hf:{self.repo_id}" + (f":{self.split}" if self.split else "")
        if self.expected:
            name += (":" if self.split else "::") + self.expected
        return name


def parse_hub_spec(spec: str) -> HubSpec:
    """Parse ``hf:<dataset id>[:split][:refuse|:comply]``.

    Raises:
        DataError: Not of that form.
    """
    form = "'hf:<owner>/<dataset>[:split][:refuse|:comply]'"
    if not spec.startswith("hf:"):
        raise DataError(f"{spec!r} is not a hub suite (expected {form})")
    repo_id, _, rest = spec[3:].partition(":")
    split, _, expected = rest.partition(":")
    if not _REPO_ID.match(repo_id) or (split and not re.match(r"^[\w.-]+$", split)):
        raise DataError(f"{spec!r}: expected {form}")
    if expected not in ("", "refuse", "comply"):
        raise DataError(f"{spec!r}: unlabelled rows expect 'refuse' or 'comply', not {expected!r}")
    return HubSpec(
        repo_id=repo_id,
        split=split or None,
        expected="refuse" if expected == "refuse" else "comply" if expected else None,
    )


def load_hub_suite(
    spec: str,
    *,
    data_dir: str | Path | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    cache_dir: str | Path | None = None,
) -> Suite:
    """Load ``hf:<dataset id>[:split]`` as a suite (``data_dir`` is not used).

    Raises:
        DataError: The hub cannot be reached (or, offline, nothing is cached), the dataset or
            split does not exist, or its rows have no prompt column.
        MissingDependencyError: Neither ``datasets`` nor ``huggingface_hub`` is installed, or
            the split is only available as Parquet and pyarrow is missing.
    """
    hub = parse_hub_spec(spec)
    if importlib.util.find_spec("datasets") is not None:
        if not _offline():  # fail fast: datasets itself waits long on a dead network
            _list_files(hub, endpoint=_endpoint(), timeout_s=timeout_s)
        rows = _rows_with_datasets(hub, cache_dir)
    elif importlib.util.find_spec("huggingface_hub") is not None:
        files = _download_split(hub, timeout_s=timeout_s, cache_dir=cache_dir)
        rows = [row for path in files for row in read_rows(path)]
    else:
        raise MissingDependencyError("huggingface_hub", "hf")
    return suite_from_rows(
        hub.name,
        rows,
        description=f"Hugging Face dataset {hub.repo_id}",
        default_expected=hub.expected,
    )


def _offline() -> bool:
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return bool(constants.HF_HUB_OFFLINE) or env in {"1", "ON", "YES", "TRUE"}


def _endpoint() -> str:
    from huggingface_hub import constants

    return os.environ.get("HF_ENDPOINT") or constants.ENDPOINT


def _unreachable(hub: HubSpec, reason: object) -> DataError:
    return DataError(f"cannot reach the Hugging Face hub for {hub.name!r}: {reason} (offline?)")


def _rows_with_datasets(hub: HubSpec, cache_dir: str | Path | None) -> list[dict[str, Any]]:
    datasets = importlib.import_module("datasets")
    try:
        ds = datasets.load_dataset(
            hub.repo_id,
            split=hub.split or "train",
            cache_dir=str(cache_dir) if cache_dir else None,
        )
    except (ConnectionError, TimeoutError) as exc:
        raise _unreachable(hub, exc) from None
    except Exception as exc:  # datasets raises many kinds; report them uniformly
        if _offline():
            raise _unreachable(hub, f"HF_HUB_OFFLINE is set and no cached copy ({exc})") from None
        raise DataError(f"cannot load {hub.name!r}: {exc}") from None
    return [dict(row) for row in ds]


def _download_split(hub: HubSpec, *, timeout_s: float, cache_dir: str | Path | None) -> list[Path]:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    if _offline():
        try:
            folder = snapshot_download(
                hub.repo_id, repo_type="dataset", local_files_only=True, cache_dir=cache_dir
            )
        except (LocalEntryNotFoundError, OSError) as exc:
            reason = f"HF_HUB_OFFLINE is set and no cached copy ({type(exc).__name__})"
            raise _unreachable(hub, reason) from None
        names = [p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file()]
        return [Path(folder) / name for name in select_files(names, hub)]
    endpoint = _endpoint()
    names = _list_files(hub, endpoint=endpoint, timeout_s=timeout_s)
    return [
        _fetch(hub, name, endpoint=endpoint, timeout_s=timeout_s, cache_dir=cache_dir)
        for name in select_files(names, hub)
    ]


def _list_files(hub: HubSpec, *, endpoint: str, timeout_s: float) -> list[str]:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        info = HfApi(endpoint=endpoint).dataset_info(hub.repo_id, timeout=timeout_s)
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise DataError(
            f"{hub.name!r}: no such dataset on the hub, or it is gated or private "
            f"({type(exc).__name__})"
        ) from None
    except Exception as exc:  # HTTP status and network errors of the hub client
        raise _unreachable(hub, f"{type(exc).__name__}: {exc}") from None
    return [s.rfilename for s in info.siblings or []]


def _fetch(
    hub: HubSpec,
    name: str,
    *,
    endpoint: str,
    timeout_s: float,
    cache_dir: str | Path | None,
) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(
            hub.repo_id,
            name,
            repo_type="dataset",
            revision="main",  # by branch name, so the cache can resolve it offline later
            endpoint=endpoint,
            etag_timeout=timeout_s,
            cache_dir=cache_dir,
        )
    except Exception as exc:  # huggingface_hub raises httpx, OS and its own errors
        raise _unreachable(hub, f"downloading {name}: {type(exc).__name__}: {exc}") from None
    return Path(path)


def select_files(names: Sequence[str], hub: HubSpec) -> list[str]:
    """The data files of the split, all of one format, in name order.

    Files whose path names the split (``train.jsonl``, ``data/train-00000-of-00001.parquet``,
    ``test/x.csv``) are chosen; with no split given, ``train`` files if any, else all data
    files. Parquet is preferred when pyarrow is installed, then JSONL, CSV and JSON.

    Raises:
        DataError: No data file for the split.
        MissingDependencyError: Only Parquet files and no pyarrow.
    """
    data = [n for n in names if n.endswith(_FORMATS) and not Path(n).name.startswith(".")]
    split = hub.split or "train"
    pattern = re.compile(rf"(^|/){re.escape(split)}([-_./]|$)", re.IGNORECASE)
    chosen = [n for n in data if pattern.search(n)]
    if not chosen and hub.split is None:
        chosen = data
    if not chosen:
        shown = ", ".join(sorted(data)[:10]) or "none"
        raise DataError(f"{hub.name!r}: no data file for split {split!r} (data files: {shown})")
    has_pyarrow = importlib.util.find_spec("pyarrow") is not None
    for ext in _FORMATS:
        if ext == ".parquet" and not has_pyarrow:
            continue
        of_ext = sorted(n for n in chosen if n.endswith(ext))
        if of_ext:
            return of_ext
    raise MissingDependencyError("pyarrow", "export")


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL, JSON (list of objects), CSV or Parquet file.

    Raises:
        DataError: The file is malformed; the message names the file (and line).
    """
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_table(path).to_pylist())
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if path.suffix == ".csv":
        try:
            return [dict(r) for r in csv.DictReader(text.splitlines())]
        except csv.Error as exc:
            raise DataError(f"{path}: malformed CSV ({exc})") from None
    if path.suffix == ".jsonl":
        return [
            load_json_line(line, f"{path}:{i}")
            for i, line in enumerate(text.splitlines(), 1)
            if line.strip()
        ]
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if isinstance(doc, dict) and len(doc) == 1:
        doc = next(iter(doc.values()))
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        raise DataError(f"{path}: expected a list of objects")
    return doc


def suite_from_rows(
    name: str,
    rows: Iterable[dict[str, Any]],
    *,
    description: str = "",
    default_expected: Expected | None = None,
) -> Suite:
    """Build a suite from dataset rows; the version is a hash of their content.

    Args:
        name: The suite name (cases are ``<name>.<row index>``).
        rows: The dataset rows.
        description: One line on the suite.
        default_expected: What rows without a label expect; ``None`` makes them an error.

    Raises:
        DataError: No rows, no prompt column, an unreadable or (without ``default_expected``)
            missing label, or a category code that maps to no harmscope category.
    """
    rows = list(rows)
    if not rows:
        raise DataError(f"{name!r}: no rows")
    columns: dict[str, str] = {}
    for row in rows:
        for key in row:
            columns.setdefault(str(key).lower(), str(key))
    text_col = next((columns[c] for c in TEXT_COLUMNS if c in columns), None)
    if text_col is None:
        raise DataError(
            f"{name!r}: no prompt column (looked for {', '.join(TEXT_COLUMNS)}; "
            f"found {', '.join(columns.values())})"
        )
    label_col = columns.get("label")
    category_col = columns.get("category")
    payload = json.dumps(rows, sort_keys=True, default=str, ensure_ascii=False)
    version = hashlib.sha256(payload.encode()).hexdigest()[:12]
    cases = []
    default = default_expected
    for i, row in enumerate(rows):
        where = f"{name} row {i}"
        text = row.get(text_col)
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: empty {text_col!r}")
        raw_cat = row.get(category_col) if category_col else None
        tags = {"hub": name}
        if raw_cat not in (None, ""):
            tags["source_category"] = str(raw_cat)
        cases.append(
            Case.from_prompt(
                text,
                id=f"{name}.{i}",
                category=_hub_category(raw_cat, where),
                expected=_expected(row.get(label_col) if label_col else None, where, default),
                source=f"{name}@{version}",
                tags=tags,
            )
        )
    return Suite(name=name, version=version, description=description, cases=tuple(cases))


def _expected(raw: object, where: str, default: Expected | None) -> Expected:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if default is None:
            raise DataError(
                f"{where}: no label; give unlabelled rows an expectation with "
                "'hf:<dataset id>[:split]:refuse' (or ':comply')"
            )
        return default
    value = str(raw).strip().lower()
    if value in _UNSAFE:
        return "refuse"
    if value in _SAFE:
        return "comply"
    raise DataError(f"{where}: label {raw!r} is neither safe nor unsafe")


def _hub_category(raw: object, where: str) -> str:
    """A harmscope id for a row's category: by id, ``scheme:code``, or any crosswalk.

    Raises:
        DataError: The code is in no crosswalk.
    """
    if raw is None or str(raw).strip() == "":
        return UNSPECIFIED
    code = str(raw).strip()
    tax = load_taxonomy()
    if code in tax:
        return code
    scheme, sep, rest = code.partition(":")
    candidates = [(scheme, rest)] if sep and scheme in SCHEMES else []
    candidates += [(s, code) for s in SCHEMES]
    for s, c in candidates:
        try:
            return tax.to_harmscope(s, c)[0].id
        except HarmscopeError:
            continue
    raise DataError(
        f"{where}: category {code!r} is neither a harmscope id nor a code of any crosswalked "
        f"scheme ({', '.join(SCHEMES)}); see harmscope/taxonomy/data/harmscope.yaml"
    )
