"""Helpers for the guard tests."""

from __future__ import annotations

from harmscope.guard import ANY


class TableDetector:
    """Fixed scores per text (metrics plumbing only; no model decides anything here)."""

    name = "table"

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        return [{ANY: self.table[t]} for t in texts]
