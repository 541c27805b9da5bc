"""Text normalisation before detection: undo the cheap tricks used to slip past classifiers.

Steps, in order, each recorded in :attr:`NormalizedText.steps` when it changed something:

* ``decoded_bytes`` / ``binary`` — bytes are decoded as UTF-8 (invalid bytes replaced); control
  characters are dropped and text that is mostly unprintable is marked ``binary``;
* ``truncated`` — input longer than ``max_chars`` is cut (the note keeps the original length);
* ``nfkc`` — Unicode NFKC (full-width letters, ligatures, circled letters...);
* ``zero_width`` — zero-width and bidirectional control characters removed;
* ``base64`` / ``rot13`` — encoded segments that decode to printable words are appended,
  decoded (and folded as below), after the text: the original stays, so nothing is hidden. The
  decoded segments are also returned on their own (:attr:`NormalizedText.decoded`), and the
  guard scores each of them as a separate variant, so a short encoded request is not diluted
  by the text around it. rot13 is tried on the whole text, on each part between delimiters
  (``:``, quotes, line breaks, sentence ends) and on the text after each of its first few
  words, so ``decode this: <rot13>`` is found too;
* ``homoglyph`` — Cyrillic and Greek look-alikes folded to Latin inside Latin-looking words;
* ``leetspeak`` — digits and symbols inside words folded to letters (``h0w`` → ``how``).

Folding can mangle innocent tokens (``mp3``); the guard therefore scores the original text as
well as the normalised one and keeps the higher score.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_CHARS", "NormalizedText", "normalize"]

DEFAULT_MAX_CHARS = 20_000
"""Longest text scored; the rest is cut off and the cut is recorded."""

_ZERO_WIDTH = dict.fromkeys(
    [
        *range(0x200B, 0x2010),  # zero-width space, joiners, LRM/RLM
        *range(0x202A, 0x202F),  # bidi embeddings and overrides
        *range(0x2060, 0x2065),  # word joiner, invisible operators
        *range(0x2066, 0x206A),  # bidi isolates
        0x00AD,  # soft hyphen
        0x034F,  # combining grapheme joiner
        0x180E,  # Mongolian vowel separator
        0xFEFF,  # byte-order mark / zero-width no-break space
        *range(0xFE00, 0xFE10),  # variation selectors
    ]
)

# Look-alikes of Latin letters (lower and upper case) in the Cyrillic and Greek blocks.
_HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
        "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ӏ": "l", "ү": "y",
        "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O",
        "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ї": "I",
        "Ј": "J", "Һ": "H", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W", "Ү": "Y", "Ӏ": "I",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ς": "s",
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip
_CONFUSABLE = frozenset(chr(c) for c in _HOMOGLYPHS)

_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"}
_LEET_SYMBOLS = {"@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e"}
_WORD = re.compile(r"[^\s]+")
_B64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_TOKEN = re.compile(r"[a-z]+")

# Frequent English words, to tell decoded language from noise.
_COMMON = frozenset(
    [
        "a",
        "about",
        "after",
        "all",
        "also",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "get",
        "give",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "know",
        "like",
        "make",
        "me",
        "more",
        "my",
        "no",
        "not",
        "now",
        "of",
        "on",
        "one",
        "or",
        "our",
        "out",
        "people",
        "should",
        "so",
        "some",
        "tell",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "up",
        "us",
        "use",
        "want",
        "was",
        "way",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "without",
        "would",
        "you",
        "your",
        "write",
        "steps",
        "explain",
        "help",
        "need",
        "find",
        "best",
        "kill",
        "build",
        "buy",
    ]
)


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """The result of :func:`normalize`."""

    text: str
    """The normalised text (decoded segments appended)."""
    steps: tuple[str, ...]
    """Names of the steps that changed the text, in order (``truncated:N`` keeps the length)."""
    decoded: tuple[str, ...] = ()
    """Each decoded base64 or rot13 segment on its own (folded like the text)."""


def normalize(raw: str | bytes, *, max_chars: int = DEFAULT_MAX_CHARS) -> NormalizedText:
    """Normalise ``raw`` for detection.

    Args:
        raw: Text, or bytes (decoded as UTF-8 with invalid sequences replaced).
        max_chars: Longest text kept; longer input is truncated and the step says so.

    Returns:
        The normalised text and the list of applied steps.
    """
    steps: list[str] = []
    text = _to_text(raw, steps)
    if len(text) > max_chars:
        steps.append(f"truncated:{len(text)}")
        text = text[:max_chars]
    text = _step(steps, "nfkc", text, lambda t: unicodedata.normalize("NFKC", t))
    text = _step(steps, "zero_width", text, lambda t: t.translate(_ZERO_WIDTH))
    decoded = _decode_segments(text, steps)
    text = _step(steps, "homoglyph", text, _fold_homoglyphs)
    text = _step(steps, "leetspeak", text, _fold_leet)
    folded = tuple(_fold_leet(_fold_homoglyphs(d)) for d in decoded)
    if folded:
        text = "\n".join([text, *folded])
    return NormalizedText(text=text, steps=tuple(steps), decoded=folded)


def _step(steps: list[str], name: str, text: str, fn: Callable[[str], str]) -> str:
    out = fn(text)
    if out != text:
        steps.append(name)
    return out


def _to_text(raw: str | bytes, steps: list[str]) -> str:
    if isinstance(raw, bytes | bytearray):
        raw = bytes(raw).decode("utf-8", errors="replace")
        steps.append("decoded_bytes")
    elif not isinstance(raw, str):
        raw = str(raw)
    if not raw:
        return raw
    bad = sum(1 for ch in raw if ch == "\ufffd" or (_is_control(ch)))
    if bad / len(raw) > 0.3:
        steps.append("binary")
    cleaned = "".join(ch for ch in raw if not _is_control(ch))
    if cleaned != raw and "binary" not in steps:
        steps.append("control_chars")
    return cleaned


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" and ch not in "\n\t\r"


def _fold_homoglyphs(text: str) -> str:
    def fold(match: re.Match[str]) -> str:
        word = match.group(0)
        if not any(ch in _CONFUSABLE for ch in word):
            return word
        folded = word.translate(_HOMOGLYPHS)
        latin = sum(ch.isascii() and ch.isalpha() for ch in word)
        other = sum(ch.isalpha() and not ch.isascii() and ch not in _CONFUSABLE for ch in word)
        # Fold words that mix scripts, or that are made only of look-alikes in Latin text.
        if other == 0 and (latin > 0 or latin_text):
            return folded
        return word

    letters = [ch for ch in text if ch.isalpha()]
    latin_share = sum(ch.isascii() for ch in letters) / len(letters) if letters else 0.0
    latin_text = latin_share >= 0.5
    return _WORD.sub(fold, text)


def _fold_leet(text: str) -> str:
    def fold(match: re.Match[str]) -> str:
        word = match.group(0)
        core = word.strip(".,;:?!\"'()[]{}<>")
        if not core or not any(ch.isalpha() for ch in core):
            return word
        letters = sum(ch.isalpha() for ch in core)
        leet = sum(ch in _LEET or ch in _LEET_SYMBOLS for ch in core)
        if leet == 0 or leet > letters or "://" in core or "@" in core[1:-1]:
            return word
        if len(core) >= 16 and _B64.fullmatch(core):
            return word
        folded = "".join(_LEET.get(ch, _LEET_SYMBOLS.get(ch, ch)) for ch in core)
        return word.replace(core, folded, 1)

    return _WORD.sub(fold, text)


def _decode_segments(text: str, steps: list[str]) -> list[str]:
    found: list[str] = []
    for match in _B64.finditer(text):
        plain = _try_base64(match.group(0))
        if plain:
            found.append(plain)
    if found:
        steps.append("base64")
    rot = _rot13_segments(text)
    if rot:
        steps.append("rot13")
        found.extend(rot)
    return found


_ROT13_SPLIT = re.compile(r"[:\n\"\u201c\u201d\u00ab\u00bb]|(?<=[.!?])\s+")
_ROT13_PREFIX_WORDS = 8
"""rot13 is also tried on the text after each of its first this many words."""


def _rot13_segments(text: str) -> list[str]:
    """Parts of ``text`` that read as English after rot13 and not before, decoded."""
    parts = [c for c in _ROT13_SPLIT.split(text) if _looks_rot13(c)]
    if not parts and _looks_rot13(text):
        parts = [text]
    if not parts:  # an instruction in plain words, then rot13 without a delimiter
        starts = [m.start() for m in _WORD.finditer(text[:2000])][1 : _ROT13_PREFIX_WORDS + 1]
        parts = [text[i:] for i in starts if _looks_rot13(text[i:])][:1]  # longest tail
    return [codecs.decode(_trim_plain_prefix(p), "rot13") for p in parts]


def _trim_plain_prefix(part: str) -> str:
    """``part`` from its first word that is a common word after rot13, if still rot13."""
    for match in list(_WORD.finditer(part))[:_ROT13_PREFIX_WORDS]:
        word = codecs.decode(match.group(0).strip(".,;:?!\"'()").lower(), "rot13")
        if word in _COMMON:
            tail = part[match.start() :]
            return tail.strip() if _looks_rot13(tail) else part.strip()
    return part.strip()


def _looks_rot13(text: str) -> bool:
    return _word_share(codecs.decode(text, "rot13")) >= 0.3 and _word_share(text) < 0.15


def _try_base64(segment: str) -> str | None:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        data = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        plain = data.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in plain)
    if not plain or printable / len(plain) < 0.95:
        return None
    if _word_share(plain) < 0.2 and not re.search(r"[A-Za-z]{3,} [A-Za-z]{2,}", plain):
        return None
    return plain


def _word_share(text: str) -> float:
    tokens = _TOKEN.findall(text.lower())
    if len(tokens) < 3:
        return 0.0
    return sum(t in _COMMON for t in tokens) / len(tokens)
