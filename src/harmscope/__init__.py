"""harmscope: scan, judge, document, guard and look inside language models for harm.

Importing harmscope is cheap: heavy parts (torch, transformers, FastAPI) load on first use.
"""

from __future__ import annotations

from harmscope.errors import HarmscopeError
from harmscope.records import (
    SCHEMA_VERSION,
    Case,
    GenerationParams,
    Message,
    Response,
    Verdict,
)

__all__ = [
    "SCHEMA_VERSION",
    "Case",
    "GenerationParams",
    "HarmscopeError",
    "Message",
    "Response",
    "Verdict",
    "__version__",
]

__version__ = "0.1.0"
