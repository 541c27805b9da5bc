"""Page rendering: the one Jinja2 environment of the reports and the atomic page write.

Templates live in ``report/templates``; the environment autoescapes everything and fails on
undefined names. Pages are written atomically (:mod:`harmscope.fsutil`), their folder created
if missing. Compiled templates are kept in Jinja2's per-user bytecode cache (a private folder
under the temporary directory, keyed by each template's source checksum), so a scan's report
does not recompile them on every run; where no such folder can be made they compile in memory.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import jinja2

from harmscope.fsutil import check_output_dir, write_text_atomic
from harmscope.report.terminal import format_change, format_corrected, format_rate

__all__ = ["render_template", "write_page"]


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "–"
    return f"{100 * x:+.1f} pp" if signed else f"{100 * x:.1f}%"


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja2's per-user bytecode cache, which a failed read or write never fails a page for."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return _BytecodeCache()
    except (OSError, RuntimeError):  # no private cache folder can be made
        return None


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harmscope.report", "templates"),
    bytecode_cache=_bytecode_cache(),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["rate"] = format_rate
_ENV.filters["corrected"] = format_corrected
_ENV.filters["change"] = format_change
_ENV.filters["pct"] = _pct


def render_template(name: str, **context: Any) -> str:
    """Render the report template ``name`` with ``context`` (autoescaped)."""
    return _ENV.get_template(name).render(**context)


def write_page(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically, creating its folder if missing; return the path."""
    path = Path(path)
    check_output_dir(path.parent)
    return write_text_atomic(path, text)
