"""The local transformers target on the real embedded SmolLM2-135M model.

Generations are kept to a few tokens: the machine is small and shared.
"""

from __future__ import annotations

import asyncio
import copy

import pytest

from harmscope.config import TargetOptions
from harmscope.errors import TargetError
from harmscope.records import GenerationParams, Message
from harmscope.targets import Target, create_target
from harmscope.targets.hf import HFTarget, create
from harmscope.targets.models import LoadedModel, load_model

GREEDY = GenerationParams(max_new_tokens=8)
PROMPTS = [
    "What is the capital of France?",
    "Name three primary colours.",
    "Say hello.",
    "How many legs does a spider have?",
]


def user(text: str) -> tuple[Message, ...]:
    return (Message(role="user", content=text),)


@pytest.fixture(scope="module")
def smollm() -> LoadedModel:
    return load_model("default")


@pytest.fixture(scope="module")
def target(smollm: LoadedModel) -> HFTarget:
    return HFTarget("default", loaded=smollm)


async def _ask_all(target: HFTarget, conversations, params=GREEDY):  # type: ignore[no-untyped-def]
    try:
        return await asyncio.gather(
            *(target.generate(c, params, case_id=f"c{i}") for i, c in enumerate(conversations))
        )
    finally:
        await target.aclose()


def test_create_target_builds_an_hf_target() -> None:
    target = create_target("hf/default")
    assert isinstance(target, HFTarget) and isinstance(target, Target)
    assert target.id == "hf/default"
    assert target.loaded is load_model("default"), "the model is shared within the process"
    with pytest.raises(TargetError, match="base URL"):
        create("default", TargetOptions(base_url="http://127.0.0.1:1/v1"))
    with pytest.raises(TargetError, match="not an alias"):
        create_target("hf/./no-such-model")


def test_concurrent_requests_run_as_one_batch(target: HFTarget) -> None:
    batches, cases = target.batches_run, target.cases_run
    responses = asyncio.run(_ask_all(target, [user(p) for p in PROMPTS]))
    assert target.batches_run - batches == 1, "four concurrent requests must share one batch"
    assert target.cases_run - cases == 4
    for i, (prompt, r) in enumerate(zip(PROMPTS, responses, strict=True)):
        assert r.ok and r.text, r.error
        assert r.case_id == f"c{i}" and r.target_id == "hf/default"
        assert r.prompt_tokens == len(target.encode(user(prompt), GREEDY))
        assert r.completion_tokens is not None and 1 <= r.completion_tokens <= 8
        assert r.finish_reason in ("stop", "length")
        if r.finish_reason == "length":
            assert r.completion_tokens == 8, "length means the token budget ran out"
        assert r.latency_s > 0
    assert "paris" in responses[0].text.lower(), responses[0].text  # type: ignore[union-attr]


def test_batched_greedy_output_equals_unbatched(smollm: LoadedModel) -> None:
    batched = HFTarget("default", loaded=smollm, max_batch=32)
    single = HFTarget("default", loaded=smollm, max_batch=1)
    conversations = [user(p) for p in PROMPTS]
    lengths = [len(batched.encode(c, GREEDY)) for c in conversations]
    # Compare the two most padded prompts of the batch with their unpadded runs.
    padded = sorted(range(len(PROMPTS)), key=lengths.__getitem__)[:2]
    assert max(lengths) > max(lengths[i] for i in padded), "these prompts must be padded"
    together = asyncio.run(_ask_all(batched, conversations))
    alone = asyncio.run(_ask_all(single, [conversations[i] for i in padded]))
    assert batched.batches_run == 1 and single.batches_run == 2
    for a, b in zip([together[i] for i in padded], alone, strict=True):
        assert (a.text, a.completion_tokens, a.finish_reason) == (
            b.text,
            b.completion_tokens,
            b.finish_reason,
        ), "left padding changed a greedy answer"


def test_system_prompt_reaches_the_template(target: HFTarget) -> None:
    tok = target.loaded.tokenizer
    plain = tok.decode(target.encode(user("Hi"), GREEDY))
    params = GenerationParams(max_new_tokens=8, system_prompt="You are Quillbot the helper.")
    with_system = tok.decode(target.encode(user("Hi"), params))
    assert "Quillbot" in with_system and "Quillbot" not in plain
    assert with_system.index("Quillbot") < with_system.index("Hi")
    own = (Message(role="system", content="You are Pebble."), *user("Hi"))
    kept = tok.decode(target.encode(own, params))
    assert "Pebble" in kept and "Quillbot" not in kept, "a case's own system message wins"
    (r,) = asyncio.run(_ask_all(target, [user("Hi")], params))
    assert r.ok, r.error


def test_multi_turn_history_is_sent_in_order(target: HFTarget) -> None:
    history = (
        Message(role="user", content="My name is Zorblat."),
        Message(role="assistant", content="Nice to meet you, Zorblat!"),
        Message(role="user", content="What is my name?"),
    )
    text = target.loaded.tokenizer.decode(target.encode(history, GREEDY))
    positions = [text.index(m.content) for m in history]
    assert positions == sorted(positions), "turns out of order"
    (r,) = asyncio.run(_ask_all(target, [history]))
    assert r.ok and "Zorblat" in (r.text or ""), r.text


def test_sampling_is_seeded_and_groups_by_params(target: HFTarget) -> None:
    sampled = GenerationParams(max_new_tokens=4, temperature=1.0, seed=7)
    batches = target.batches_run
    first = asyncio.run(_ask_all(target, [user(PROMPTS[2]), user(PROMPTS[2])], sampled))
    again = asyncio.run(_ask_all(target, [user(PROMPTS[2]), user(PROMPTS[2])], sampled))
    assert [r.text for r in first] == [r.text for r in again], "same seed, same sample"
    assert target.batches_run - batches == 2

    async def mixed():  # type: ignore[no-untyped-def]
        items = [(user(PROMPTS[0]), GREEDY.model_copy(update={"max_new_tokens": 2}))]
        return await _ask_all_params(target, [*items, (user(PROMPTS[1]), sampled)])

    batches = target.batches_run
    responses = asyncio.run(mixed())
    assert all(r.ok for r in responses)
    assert target.batches_run - batches == 2, "different parameters never share a batch"


async def _ask_all_params(target: HFTarget, items):  # type: ignore[no-untyped-def]
    try:
        return await asyncio.gather(
            *(target.generate(c, p, case_id=f"c{i}") for i, (c, p) in enumerate(items))
        )
    finally:
        await target.aclose()


def test_batches_are_capped_by_max_batch(smollm: LoadedModel) -> None:
    small = HFTarget("default", loaded=smollm, max_batch=2)
    one_token = GenerationParams(max_new_tokens=1)
    responses = asyncio.run(_ask_all(small, [user(p) for p in PROMPTS + PROMPTS[:1]], one_token))
    assert all(r.ok and r.completion_tokens == 1 for r in responses)
    assert (small.batches_run, small.cases_run) == (3, 5)


def test_failures_become_error_responses_for_the_affected_cases(smollm: LoadedModel) -> None:
    tokenizer = copy.deepcopy(smollm.tokenizer)
    # A token the model has no embedding for: generation fails for prompts that contain it.
    tokenizer.add_tokens(["<unembedded>"])
    assert tokenizer.convert_tokens_to_ids("<unembedded>") >= smollm.model.config.vocab_size
    # A template that rejects system messages: encoding fails before generation.
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('system messages are not supported') }}{% endif %}"
        "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    broken = HFTarget("default", loaded=LoadedModel(smollm.model, tokenizer, "x", "x"))
    conversations = [
        user("Say hello."),
        user("Repeat <unembedded> please."),
        (Message(role="system", content="Be brief."), *user("Say hello.")),
        user("Name a fruit."),
    ]
    good, bad_token, bad_template, good_too = asyncio.run(_ask_all(broken, conversations))
    assert good.ok and good_too.ok, (good.error, good_too.error)
    assert not bad_token.ok and bad_token.error and bad_token.text is None
    assert not bad_template.ok and "system messages are not supported" in (bad_template.error or "")


def test_aclose_lets_go_of_the_batcher_and_the_target_can_be_reused(smollm: LoadedModel) -> None:
    target = HFTarget("default", loaded=smollm)
    one_token = GenerationParams(max_new_tokens=1)

    async def use_and_close() -> tuple[bool, bool]:
        await target.generate(user("Hi"), one_token)
        used = target._batcher is not None
        await target.aclose()
        return used, target._batcher is None

    assert asyncio.run(use_and_close()) == (True, True), "aclose must let go of the batcher"
    assert asyncio.run(use_and_close()) == (True, True)  # a new event loop gets a new batcher
    assert target.batches_run == 2
