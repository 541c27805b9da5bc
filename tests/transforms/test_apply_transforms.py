"""Composition order, spec expansion, the product bound and unknown names."""

from __future__ import annotations

import base64

import pytest
from transform_cases import SAFE, UNSAFE, WITH_SYSTEM

from harmscope.errors import NotFoundError
from harmscope.records import Case
from harmscope.transforms import (
    apply_transforms,
    compose,
    families,
    get_transform,
    registry,
    resolve,
)
from harmscope.transforms.base import run_transform


def _only(cases: list[Case]) -> Case:
    assert len(cases) == 1
    return cases[0]


def _payload(prompt: str) -> str:
    return prompt.rsplit("\n\n", 1)[-1]


def test_composition_order_format_then_encode() -> None:
    fmt, enc = registry.get("format.python"), registry.get("encode.base64")
    combined = _only(run_transform(compose(fmt, enc), UNSAFE))
    assert combined.id == f"{UNSAFE.id}~format.python+encode.base64"
    assert combined.parent_id == UNSAFE.id
    assert combined.tags["transform"] == "format.python+encode.base64"
    assert combined.tags["family"] == "format+encode"
    wrapped = _only(run_transform(fmt, UNSAFE)).prompt
    assert base64.b64decode(_payload(combined.prompt)).decode() == wrapped


def test_composition_order_encode_then_format() -> None:
    fmt, enc = registry.get("format.python"), registry.get("encode.base64")
    combined = _only(run_transform(compose(enc, fmt), UNSAFE))
    assert combined.id == f"{UNSAFE.id}~encode.base64+format.python"
    assert _only(run_transform(enc, UNSAFE)).prompt in combined.prompt
    assert not combined.prompt.startswith("The message below is encoded")


def test_sequential_application_equals_composition_and_keeps_root_parent() -> None:
    persona, enc = registry.get("persona.historical"), registry.get("encode.rot13")
    step = _only(run_transform(enc, _only(run_transform(persona, WITH_SYSTEM))))
    assert step == _only(run_transform(compose(persona, enc), WITH_SYSTEM))
    assert step.parent_id == WITH_SYSTEM.id
    assert step.messages[0].role == "system"
    assert "You are" in step.messages[0].content, "the encoding leaves the system message alone"
    assert get_transform("persona.historical+encode.rot13").apply(WITH_SYSTEM) == step


def test_family_spec_and_pairwise_family_composition() -> None:
    assert [t.id for t in resolve("encode")] == families()["encode"]
    pairs = resolve("persona+encode.base64")
    assert [t.id for t in pairs] == [f"{p}+encode.base64" for p in families()["persona"]]


def test_apply_transforms_counts_and_order() -> None:
    cases = [UNSAFE, SAFE]
    n_persona, n_encode = len(families()["persona"]), len(families()["encode"])
    out = apply_transforms(cases, ["persona", "encode"])
    assert len(out) == 2 * (1 + n_persona + n_encode)
    assert out[0] == UNSAFE and out[1 + n_persona + n_encode] == SAFE
    assert len({c.id for c in out}) == len(out)
    no_plain = apply_transforms(cases, ["persona", "encode.base64"], include_plain=False)
    assert len(no_plain) == 2 * (n_persona + 1)
    assert all(c.parent_id in {UNSAFE.id, SAFE.id} for c in no_plain)
    dup = apply_transforms([UNSAFE], ["encode.base64", "encode", "encode.base64"])
    assert len(dup) == 1 + n_encode, "repeated specs do not repeat transforms"
    assert apply_transforms(cases, []) == cases


def test_product_adds_compositions_to_the_single_transforms() -> None:
    cases = [UNSAFE, SAFE]
    n_persona, n_encode = len(families()["persona"]), len(families()["encode"])
    singles = n_persona + n_encode
    full = apply_transforms(cases, ["persona", "encode"], product=True, include_plain=False)
    assert len(full) == 2 * (singles + n_persona * n_encode)
    per_case = full[: singles + n_persona * n_encode]
    assert [c.tags["family"] for c in per_case[:singles]] == (
        ["persona"] * n_persona + ["encode"] * n_encode
    ), "the single transforms come first, as without --transform-product"
    assert {c.tags["family"] for c in per_case[singles:]} == {"persona+encode"}
    plain_run = apply_transforms(cases, ["persona", "encode"], include_plain=False)
    assert {c.id for c in plain_run} < {c.id for c in full}
    one_spec = apply_transforms(cases, ["encode"], product=True)
    assert one_spec == apply_transforms(cases, ["encode"]), "one spec has nothing to compose"


def test_product_bound_caps_only_the_compositions_and_follows_the_seed() -> None:
    cases = [UNSAFE, SAFE]
    n_persona, n_encode = len(families()["persona"]), len(families()["encode"])
    singles = n_persona + n_encode
    bounded = apply_transforms(cases, ["persona", "encode"], product=True, max_compositions=10)
    assert len(bounded) == 2 * (1 + singles + 10)
    again = apply_transforms(cases, ["persona", "encode"], product=True, max_compositions=10)
    assert bounded == again, "the bounded sample is deterministic"
    other = apply_transforms(
        cases, ["persona", "encode"], product=True, max_compositions=10, seed=1
    )
    assert {c.id for c in other} != {c.id for c in bounded}, "the seed picks the sample"
    composed = {c.tags["transform"] for c in bounded if "+" in c.tags.get("transform", "")}
    assert len(composed) == 10
    with pytest.raises(ValueError):
        apply_transforms(cases, ["persona"], max_compositions=0)


@pytest.mark.parametrize(
    ("spec", "suggestion"),
    [("encode.base46", "encode.base64"), ("encdoe", "encode"), ("persona.historic", "persona")],
)
def test_unknown_transform_suggests(spec: str, suggestion: str) -> None:
    with pytest.raises(NotFoundError) as info:
        apply_transforms([UNSAFE], [spec])
    message = str(info.value)
    assert "did you mean" in message and suggestion in message, message
    with pytest.raises(NotFoundError):
        get_transform(f"format.python+{spec}")


class _Sweep:
    """A plugin-style transform written here: one case per persona key (a list result)."""

    id = "sweep.two"
    family = "sweep"
    description = "Two fixed system messages, one case each (test transform)."

    def apply(self, case: Case) -> list[Case]:
        from harmscope.records import Message
        from harmscope.transforms.base import derive

        return [
            derive(
                case,
                self.id,
                self.family,
                (Message(role="system", content=f"You are {key}."), *case.messages),
                variant=key,
            )
            for key in ("ada", "bob")
        ]


def test_list_results_get_variant_ids_and_compose() -> None:
    sweep = _Sweep()
    registry.add(sweep.id, sweep)
    try:
        out = apply_transforms([UNSAFE], ["sweep", "sweep+encode.base64"], include_plain=False)
    finally:
        registry._items.pop(sweep.id)
    assert [c.id for c in out] == [
        f"{UNSAFE.id}~sweep.two#ada",
        f"{UNSAFE.id}~sweep.two#bob",
        f"{UNSAFE.id}~sweep.two+encode.base64#ada",
        f"{UNSAFE.id}~sweep.two+encode.base64#bob",
    ]
    assert all(c.parent_id == UNSAFE.id for c in out)
    assert out[3].messages[0].content == "You are bob."
    assert "sweep" not in families()
