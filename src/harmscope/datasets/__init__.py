r"""Labelled data: public sets read by path, labelled files, and the checks every reader shares.

Records: :class:`LabelledPrompt` (a prompt and whether it is a harmful request) and
:class:`LabelledResponse` (a prompt/response pair with its human labels).
:func:`read_public_prompts` reads any public prompt set of :data:`PUBLIC_PROMPT_SETS` (XSTest,
JailbreakBench, HarmBench, AdvBench, StrongREJECT, SimpleSafetyTests, AILuminate);
:mod:`harmscope.datasets.responses` the labelled-response sets; :func:`read_labelled_prompts` the
labelled-prompt JSON Lines format. Every problem is a :class:`~harmscope.errors.DataError`
starting ``file:line``.

:func:`json_problem` says why a parsed JSON value cannot be used as text (a lone UTF-16
surrogate, which ``"\ud800"`` escapes decode to and no tokenizer, database or UTF-8 file can
carry; nesting deeper than a limit); :func:`load_json_line` parses one line of a file into an
object or raises :class:`~harmscope.errors.DataError` naming ``file:line``; :func:`read_lines`
reads a UTF-8 text file, naming it when it cannot.
"""

from harmscope.datasets.csvfile import read_csv
from harmscope.datasets.jsonl import MAX_JSON_DEPTH, json_problem, load_json_line, read_lines
from harmscope.datasets.labelled import (
    labelled_prompts_or_none,
    parse_labelled_prompt,
    read_labelled_prompts,
)
from harmscope.datasets.public import PUBLIC_PROMPT_SETS, public_files, read_public_prompts
from harmscope.datasets.records import LabelledPrompt, LabelledResponse

__all__ = [
    "MAX_JSON_DEPTH",
    "PUBLIC_PROMPT_SETS",
    "LabelledPrompt",
    "LabelledResponse",
    "json_problem",
    "labelled_prompts_or_none",
    "load_json_line",
    "parse_labelled_prompt",
    "public_files",
    "read_csv",
    "read_labelled_prompts",
    "read_lines",
    "read_public_prompts",
]
