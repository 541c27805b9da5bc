from harmscope.cards import RedactionOptions, redact


def test_urls_quantities_and_digits_are_removed():
    text = "Mix 250 mg with 3.5 ml, see https://x.example/a?b=1 or mail a.b@c.org, call 555-0199."
    assert redact(text) == (
        "Mix [quantity] with [quantity], see [link removed] or mail [email removed], call #-#."
    )


def test_script_urls_count_as_links():
    assert redact('<a href="javascript:alert(1)">x</a>') == '<a href="[link removed]">x</a>'


def test_first_words_kept_then_truncated():
    words = " ".join(f"w{chr(97 + i % 26)}" for i in range(60))
    out = redact(words, RedactionOptions(keep_words=5))
    assert out == "wa wb wc wd we […]"
    long = "x" * 1000
    cut = redact(long, RedactionOptions(max_chars=50, keep_words=None))
    assert len(cut) == 50 and cut.endswith("[…]")


def test_disabled_redaction_still_truncates():
    text = "take 250 mg " + "y" * 400
    out = redact(text, enabled=False)
    assert out.startswith("take 250 mg") and len(out) == 240


def test_options_can_keep_digits():
    opts = RedactionOptions(digits=False, quantities=False, urls=False)
    assert redact("room 101 at 5 kg", opts) == "room 101 at 5 kg"
