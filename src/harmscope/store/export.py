"""Export a stored run to JSONL or Parquet.

The file is written atomically (:mod:`harmscope.fsutil`): a reader, or a process killed
mid-export, sees the previous complete file or the new complete one, never a partial one.
The destination's folder must exist; it is not created.
"""

from __future__ import annotations

import json
from pathlib import Path

from harmscope.errors import DataError, MissingDependencyError
from harmscope.fsutil import atomic_writer, check_output_file
from harmscope.store.sqlite import SQLiteStore

__all__ = ["export_run"]


def export_run(store: SQLiteStore, run_id: str, path: str | Path) -> int:
    """Write one row per case of ``run_id`` to ``path`` (``.jsonl`` or ``.parquet``).

    An existing file is replaced atomically; the folder of ``path`` must exist.

    Returns:
        The number of rows written.

    Raises:
        DataError: Unsupported file extension.
        MissingDependencyError: Parquet asked for without pyarrow.
        OutputError: ``path`` is a folder, or its folder is missing or not writable.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".jsonl", ".parquet"}:
        raise DataError(f"{path}: export to .jsonl or .parquet")
    if suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise MissingDependencyError("pyarrow", "export") from None
    check_output_file(path)
    rows = store.iter_rows(run_id)
    n = 0
    with atomic_writer(path) as fh:
        if suffix == ".jsonl":
            for row in rows:
                fh.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
                n += 1
        else:
            flat = [_flatten(r) for r in rows]
            n = len(flat)
            pq.write_table(pa.Table.from_pylist(flat), fh)
    return n


def _flatten(row: dict[str, object]) -> dict[str, object]:
    case = row["case"]
    response = row["response"]
    assert isinstance(case, dict)
    flat: dict[str, object] = {
        "schema_version": row["schema_version"],
        "run_id": row["run_id"],
        "case_id": case["id"],
        "category": case["category"],
        "expected": case["expected"],
        "prompt": case["messages"][-1]["content"],
        "messages": json.dumps(case["messages"], ensure_ascii=False),
        "tags": json.dumps(case["tags"], ensure_ascii=False),
        "response": None,
        "error": None,
        "latency_s": None,
    }
    if isinstance(response, dict):
        flat.update(
            response=response["text"], error=response["error"], latency_s=response["latency_s"]
        )
    verdicts = row["verdicts"]
    assert isinstance(verdicts, list)
    flat["verdicts"] = json.dumps(verdicts, ensure_ascii=False)
    return flat
