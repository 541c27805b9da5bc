"""One chat-template renderer for local targets and the latent workflows."""

from __future__ import annotations

from typing import Any

from harmscope.chat import has_chat_template, render_chat


class _Templated:
    chat_template = "{{ messages }}"

    def apply_chat_template(self, chat: Any, **kw: Any) -> str:
        assert kw == {"add_generation_prompt": True, "tokenize": False}
        return "|".join(f"<{m['role']}>{m['content']}" for m in chat) + "|<assistant>"


class _Base:
    chat_template = None


def test_render_chat_uses_the_template_with_the_generation_prompt() -> None:
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert has_chat_template(_Templated())
    assert render_chat(_Templated(), msgs) == "<system>be brief|<user>hi|<assistant>"


def test_render_chat_without_a_template_writes_plain_turns() -> None:
    assert not has_chat_template(_Base())
    assert not has_chat_template(object())
    out = render_chat(_Base(), [{"role": "user", "content": "hi"}])
    assert out == "user: hi\n\nassistant:"


def test_latent_prompts_render_as_local_targets_do(tiny) -> None:
    from harmscope.latent.positions import render_prompt

    _, tok = tiny
    msgs = [{"role": "user", "content": "hello there"}]
    assert render_prompt(tok, "hello there") == render_chat(tok, msgs)


def test_the_phrase_rules_are_the_keyword_judges() -> None:
    from harmscope.judges import keyword
    from harmscope.refusal_phrases import classify

    assert keyword.classify is classify
    assert classify("I'm sorry, but I can't help with that.")[0] == "full_refusal"
    assert classify("Sure: boil the water first.")[0] == "full_compliance"
