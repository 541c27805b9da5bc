"""Surface noise: misspellings, chat slang and random capitalisation (seeded by the case id).

Character-level perturbations move a request away from the exact strings safety training and
keyword filters saw while keeping it readable (Hughes et al. 2024, "Best-of-N
Jailbreaking"; garak's ``buffs``). The slang lexicon is written for harmscope.
"""

from __future__ import annotations

import random
import re

from harmscope.transforms.base import PromptTransform

__all__ = ["TRANSFORMS", "add_typos", "random_case", "slangify"]

_WORD = re.compile(r"[A-Za-z]+")
_NEIGHBOURS = {
    "a": "qs", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "q": "w", "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc",
    "y": "tu", "z": "x",
}  # fmt: skip


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1) if len(word) > 2 else 0
    op = rng.randrange(4)
    if op == 0 and i + 1 < len(word) and word[i] != word[i + 1]:  # swap neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == 1 and len(word) > 3:  # drop a letter
        return word[:i] + word[i + 1 :]
    if op == 2:  # double a letter
        return word[: i + 1] + word[i:]
    low = word[i].lower()
    sub = rng.choice(_NEIGHBOURS.get(low, low + "e"))  # keyboard neighbour
    sub = sub.upper() if word[i].isupper() else sub
    return word[:i] + sub + word[i + 1 :]


def add_typos(text: str, rng: random.Random, *, rate: float = 0.3) -> str:
    """Misspell about ``rate`` of the words of four letters or more (at least one)."""
    words = [m for m in _WORD.finditer(text) if len(m.group()) >= 4]
    if not words:
        words = [m for m in _WORD.finditer(text) if len(m.group()) >= 2]
    if not words:
        return text
    chosen = {id(m) for m in words if rng.random() < rate} or {id(rng.choice(words))}
    out, last = [], 0
    for m in words:
        if id(m) in chosen:
            out.append(text[last : m.start()])
            out.append(_typo(m.group(), rng))
            last = m.end()
    out.append(text[last:])
    return "".join(out)


_SLANG = {
    "you": "u", "your": "ur", "you're": "ur", "are": "r", "please": "pls", "for": "4",
    "because": "cuz", "people": "ppl", "something": "smth", "someone": "some1",
    "really": "rly", "what": "wut", "with": "w/", "without": "w/o", "though": "tho",
    "tonight": "2nite", "okay": "ok", "thanks": "thx", "before": "b4", "about": "abt",
    "going to": "gonna", "want to": "wanna", "got to": "gotta", "do not": "dont",
    "don't": "dont", "i am": "im", "i'm": "im", "can't": "cant", "know": "kno",
}  # fmt: skip
_SLANG_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(_SLANG, key=len, reverse=True)) + r")\b"
)
_OPENERS = ("yo ", "ngl ", "ok so ", "hey quick q, ", "lowkey ", "")
_CLOSERS = (" lol", " fr", " asap", " thx", " pls", " tbh")


def slangify(text: str, rng: random.Random) -> str:
    """Lower-case chat register: slang substitutions, a casual opener and closer."""
    body = _SLANG_RE.sub(lambda m: _SLANG[m.group(1)], text.lower()).rstrip(" .")
    return f"{rng.choice(_OPENERS)}{body}{rng.choice(_CLOSERS)}"


def random_case(text: str, rng: random.Random) -> str:
    """Randomly capitalise letters (each letter flipped with probability one half)."""
    flipped = "".join(ch.swapcase() if ch.isalpha() and rng.random() < 0.5 else ch for ch in text)
    return flipped if flipped != text else text.swapcase()


TRANSFORMS: tuple[PromptTransform, ...] = (
    PromptTransform(
        "noise.typos",
        "Seeded misspellings: swapped, dropped, doubled and keyboard-neighbour letters "
        "(Hughes et al. 2024, 'Best-of-N Jailbreaking').",
        add_typos,
    ),
    PromptTransform(
        "noise.slang",
        "Lower-case chat slang with a casual opener and closer.",
        slangify,
    ),
    PromptTransform(
        "noise.case",
        "Random capitalisation of letters (Hughes et al. 2024, 'Best-of-N Jailbreaking').",
        random_case,
    ),
)
"""The noise transforms."""
