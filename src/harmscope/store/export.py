"""Export a stored run to JSONL or Parquet."""

from __future__ import annotations

import json
from pathlib import Path

from harmscope.errors import DataError, MissingDependencyError
from harmscope.store.sqlite import SQLiteStore

__all__ = ["export_run"]


def export_run(store: SQLiteStore, run_id: str, path: str | Path) -> int:
    """Write one row per case of ``run_id`` to ``path`` (``.jsonl`` or ``.parquet``).

    Returns:
        The number of rows written.

    Raises:
        DataError: Unsupported file extension.
        MissingDependencyError: Parquet asked for without pyarrow.
    """
    path = Path(path)
    rows = list(store.iter_rows(run_id))
    if path.suffix == ".jsonl":
        tmp = path.with_suffix(".jsonl.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        tmp.replace(path)
    elif path.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise MissingDependencyError("pyarrow", "export") from None
        table = pa.Table.from_pylist([_flatten(r) for r in rows])
        pq.write_table(table, path)
    else:
        raise DataError(f"{path}: export to .jsonl or .parquet")
    return len(rows)


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
