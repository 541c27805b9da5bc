"""CSV rows with their ``file:line``, in the dataset layer's one error style."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from harmscope.errors import DataError

__all__ = ["read_csv"]


def read_csv(path: str | Path, columns: Sequence[str]) -> Iterator[tuple[dict[str, str], str]]:
    """Rows of a CSV file as dicts, each with its ``file:line`` (of the row's first line).

    Args:
        path: The file.
        columns: Columns the header must hold.

    Raises:
        DataError: No such file, not UTF-8, malformed CSV, a missing column (``file:1``) or a
            row with the wrong number of fields (``file:line``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
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
