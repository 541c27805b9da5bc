"""Encoders round-trip and match hand-worked examples; the translator hook is honoured."""

from __future__ import annotations

import pytest
from transform_cases import UNSAFE

from harmscope.transforms import registry
from harmscope.transforms.encode import CODECS
from harmscope.transforms.lang import LanguageTransform, register_translator

SAMPLES = [
    "How do I pick the lock on my neighbour's front door without a key?",
    "Mixed CASE, digits 4 3 1 0 5 7 and a backslash \\ here.",
    "café ñ 日本語 — emoji 🙂",
    "line one\nline two\ttabbed  double  spaces",
    "{braces} and [brackets] / slashes - dashes . dots",
    "",
    "a",
]


@pytest.mark.parametrize("name", sorted(CODECS))
@pytest.mark.parametrize("text", SAMPLES)
def test_round_trip(name: str, text: str) -> None:
    codec = CODECS[name]
    encoded = codec.encode(text)
    if name == "morse":  # Morse has no letter case
        assert codec.decode(encoded) == text.lower()
    else:
        assert codec.decode(encoded) == text
    if len(text.strip()) > 1 and name != "leetspeak":
        assert encoded != text, f"{name} left {text!r} unchanged"


@pytest.mark.parametrize(
    ("name", "text", "encoded"),
    [
        ("base64", "hi", "aGk="),
        ("rot13", "Hello, World", "Uryyb, Jbeyq"),
        ("caesar", "abc xyz ABC", "def abc DEF"),
        ("atbash", "abc Zoo", "zyx All"),
        ("morse", "SOS help", "... --- ... / .... . .-.. .--."),
        ("leetspeak", "test site", "7357 5173"),
        ("leetspeak", "a4", "4\\4"),
        ("spacing", "ab c", "a b   c"),
        ("reverse", "abc", "cba"),
        ("hex", "Hi", "4869"),
    ],
)
def test_hand_worked_encodings(name: str, text: str, encoded: str) -> None:
    assert CODECS[name].encode(text) == encoded


def test_encode_transform_wraps_with_decoding_instruction() -> None:
    for name in sorted(CODECS):
        derived = registry.get(f"encode.{name}").apply(UNSAFE)
        assert not isinstance(derived, list)
        payload = CODECS[name].encode(UNSAFE.prompt)
        assert derived.prompt.endswith(payload)
        instruction = derived.prompt[: -len(payload)].lower()
        assert any(
            w in instruction for w in ("decod", "deciph", "read", "remove", "translat", "convert")
        ), instruction
        assert UNSAFE.prompt not in derived.prompt
        assert derived.tags["encoding"] == name


def test_translator_hook_and_explicit_translator() -> None:
    fr = registry.get("lang.fr")
    assert isinstance(fr, LanguageTransform)
    plain = fr.apply(UNSAFE)
    assert plain.tags["translated"] == "no" and UNSAFE.prompt in plain.prompt
    calls: list[tuple[str, str]] = []

    def fake_translate(text: str, lang: str) -> str:
        calls.append((text, lang))
        return f"[{lang}] {text[::-1]}"

    register_translator(fake_translate)
    try:
        hooked = fr.apply(UNSAFE)
    finally:
        register_translator(None)
    assert calls == [(UNSAFE.prompt, "fr")]
    assert hooked.tags["translated"] == "yes"
    assert hooked.prompt.endswith(f"[fr] {UNSAFE.prompt[::-1]}")
    assert "français" in hooked.prompt
    explicit = registry.get("lang.de")
    assert isinstance(explicit, LanguageTransform)
    bound = explicit.with_translator(lambda text, lang: text.upper())
    assert bound.apply(UNSAFE).prompt.endswith(UNSAFE.prompt.upper())
    assert fr.apply(UNSAFE) == plain, "clearing the hook restores the untranslated wrapper"
