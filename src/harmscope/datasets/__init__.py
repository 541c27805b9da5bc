r"""Labelled data: the checks every reader of a JSON Lines file shares.

:func:`json_problem` says why a parsed JSON value cannot be used as text (a lone UTF-16
surrogate, which ``"\ud800"`` escapes decode to and no tokenizer, database or UTF-8 file can
carry; nesting deeper than a limit); :func:`load_json_line` parses one line of a file into an
object or raises :class:`~harmscope.errors.DataError` naming ``file:line``; :func:`read_lines`
reads a UTF-8 text file, naming it when it cannot.
"""

from harmscope.datasets.jsonl import MAX_JSON_DEPTH, json_problem, load_json_line, read_lines

__all__ = ["MAX_JSON_DEPTH", "json_problem", "load_json_line", "read_lines"]
