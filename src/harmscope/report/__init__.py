"""Reports: terminal tables, JSON and static HTML."""

from __future__ import annotations

from harmscope.report.html import render_comparison, render_html, write_comparison, write_html
from harmscope.report.terminal import format_rate, render_summary

__all__ = [
    "format_rate",
    "render_comparison",
    "render_html",
    "render_summary",
    "write_comparison",
    "write_html",
]
