"""Cut example text down so cards and reports never reproduce operational detail in full.

Order matters: URLs and e-mail addresses go first (they contain digits), then quantities
(a number with a unit), then any remaining digits; the text is then cut to the first N words
and to at most ``max_chars`` characters.
"""

from __future__ import annotations

import re

from harmscope.cards.model import RedactionOptions

__all__ = ["redact", "truncate"]

URL_MARK = "[link removed]"
EMAIL_MARK = "[email removed]"
QUANTITY_MARK = "[quantity]"
DIGIT_MARK = "#"
CUT_MARK = " […]"

_URL = re.compile(
    r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.|\b(?:javascript|data|vbscript|file):)[^\s<>\"']*",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_UNITS = (
    r"%|percent|°\s?[cfk]?|degrees?|mg|mcg|µg|ug|g|kg|grams?|kilograms?|milligrams?|"
    r"ml|l|litres?|liters?|millilit(?:re|er)s?|oz|ounces?|lbs?|pounds?|tons?|tonnes?|"
    r"mm|cm|m|km|in|inch(?:es)?|f(?:ee)?t|psi|bar|atm|v|volts?|amps?|w|watts?|kw|"
    r"mol|mmol|molar|ppm|ppb|ci|bq|gy|sv|hours?|hrs?|h|minutes?|mins?|seconds?|secs?|s|"
    r"days?|weeks?|tablets?|pills?|capsules?|doses?|drops?|units?|iu|parts?|cups?|"
    r"tsp|tbsp|teaspoons?|tablespoons?|x"
)
_QUANTITY = re.compile(
    rf"(?<![\w.])\d+(?:[.,]\d+)*(?:\s*(?:-|–|to)\s*\d+(?:[.,]\d+)*)?\s*(?:{_UNITS})(?![\w])",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+(?:[.,:/]\d+)*")


def truncate(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters, marked when cut."""
    if len(text) <= max_chars:
        return text
    keep = max(0, max_chars - len(CUT_MARK))
    return text[:keep].rstrip() + CUT_MARK


def redact(text: str, options: RedactionOptions | None = None, *, enabled: bool = True) -> str:
    """Redact and truncate ``text``.

    Args:
        text: Example text (a prompt or a model's answer).
        options: What to remove and how much to keep; defaults apply when ``None``.
        enabled: ``False`` skips the replacements and word cut but still truncates to
            ``max_chars``, so no text is ever shown in full.
    """
    opts = options or RedactionOptions()
    out = text
    if enabled:
        if opts.urls:
            out = _URL.sub(URL_MARK, out)
            out = _EMAIL.sub(EMAIL_MARK, out)
        if opts.quantities:
            out = _QUANTITY.sub(QUANTITY_MARK, out)
        if opts.digits:
            out = _DIGITS.sub(DIGIT_MARK, out)
        if opts.keep_words is not None:
            words = out.split()
            if len(words) > opts.keep_words:
                out = " ".join(words[: opts.keep_words]) + CUT_MARK
    return truncate(out, opts.max_chars)
