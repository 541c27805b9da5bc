"""Every registered transform: ids, lineage, tags, determinism, and that the request survives."""

from __future__ import annotations

import difflib

import pytest
from transform_cases import CASES, MULTI, UNSAFE, WITH_SYSTEM

from harmscope.records import Case
from harmscope.transforms import families, registry
from harmscope.transforms.base import Transform, run_transform
from harmscope.transforms.encode import EncodeTransform
from harmscope.transforms.technical import rewrite_terms

NAMES = registry.names()


def _one(transform: Transform, case: Case) -> Case:
    out = run_transform(transform, case)
    assert len(out) == 1, f"{transform.id} returned {len(out)} cases"
    return out[0]


def _carries_request(transform: Transform, original: Case, derived: Case) -> bool:
    """Whether the derived case still asks for the original request (or its encoding)."""
    request = original.prompt
    if isinstance(transform, EncodeTransform):
        return transform.codec.encode(request) in derived.prompt
    if transform.id == "noise.case":
        return derived.prompt.lower() == request.lower()
    if transform.id == "noise.typos":
        old, new = request.split(), derived.prompt.split()
        if len(old) != len(new):
            return False
        ratios = [
            difflib.SequenceMatcher(None, a, b).ratio() for a, b in zip(old, new, strict=True)
        ]
        return min(ratios) >= 0.5 and sum(r < 1 for r in ratios) >= 1
    if transform.id == "noise.slang":
        ratio = difflib.SequenceMatcher(None, request.lower(), derived.prompt).ratio()
        return ratio >= 0.6
    if transform.family == "technical":
        return rewrite_terms(request) in derived.prompt
    return any(request in m.content for m in derived.messages)


def test_registry_size_and_families() -> None:
    fams = families()
    assert len(NAMES) >= 50, NAMES
    expected = {
        "persona", "format", "roleplay", "authority", "pretext", "negative", "suppression",
        "prefix", "continuation", "encode", "lang", "noise", "technical", "multiturn",
    }  # fmt: skip
    assert expected <= set(fams), set(fams)
    for fam, ids in fams.items():
        assert len(ids) >= 2, f"family {fam} has a single variant"
        assert all(i.startswith(f"{fam}.") for i in ids), ids


@pytest.mark.parametrize("name", NAMES)
def test_transform_contract(name: str) -> None:
    transform = registry.get(name)
    assert isinstance(transform, Transform)
    assert transform.id == name and transform.family == name.split(".")[0]
    assert len(transform.description) > 20, "describe the technique"
    for case in CASES:
        derived = _one(transform, case)
        assert derived.id == f"{case.id}~{name}"
        assert derived.parent_id == case.id
        assert derived.tags["transform"] == name
        assert derived.tags["family"] == transform.family
        for key, value in case.tags.items():
            if key == "language" and transform.family == "lang":
                assert derived.tags[key] == name.split(".")[1]
                continue
            assert derived.tags[key] == value, f"{name} lost tag {key}"
        assert (derived.category, derived.expected, derived.source) == (
            case.category,
            case.expected,
            case.source,
        )
        assert derived.messages != case.messages, f"{name} left {case.id} unchanged"
        assert derived.messages[-1].role == "user"
        assert _carries_request(transform, case, derived), f"{name} lost the request"
        # Earlier turns of a multi-turn case are kept in front.
        if case is MULTI:
            assert derived.messages[: len(case.messages) - 1] == case.messages[:-1] or (
                transform.family == "persona" and derived.messages[1:3] == case.messages[:2]
            )


@pytest.mark.parametrize("name", NAMES)
def test_transform_is_deterministic(name: str) -> None:
    transform = registry.get(name)
    first = _one(transform, UNSAFE)
    again = _one(transform, UNSAFE.model_copy())
    rebuilt = _one(transform, Case.model_validate(UNSAFE.model_dump()))
    assert first == again == rebuilt


@pytest.mark.parametrize("name", [n for n in NAMES if not n.startswith("lang.")])
def test_variants_are_seeded_by_case_id(name: str) -> None:
    transform = registry.get(name)
    outputs = {
        _one(transform, UNSAFE.model_copy(update={"id": f"core.x.u{i:02d}"})).messages
        for i in range(24)
    }
    assert len(outputs) >= 2, f"{name} gives every case the same variant"


def test_persona_merges_existing_system_message() -> None:
    derived = _one(registry.get("persona.unfiltered"), WITH_SYSTEM)
    systems = [m for m in derived.messages if m.role == "system"]
    assert len(systems) == 1
    assert systems[0].content.endswith("You are a helpful assistant.")
    assert derived.tags["persona"] in {"freemind", "dev_mode", "raw_model", "opposite"}


def test_multiturn_transforms_build_alternating_conversations() -> None:
    for name in families()["multiturn"]:
        derived = _one(registry.get(name), UNSAFE)
        roles = [m.role for m in derived.messages]
        assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"], roles
        assert derived.tags["turns"] == str(roles.count("user"))
        assert derived.tags["kind"] in {"escalation", "decomposition", "context"}
        assert int(derived.tags["turns"]) >= 2
