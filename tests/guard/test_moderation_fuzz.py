"""Generated input for ``POST /v1/moderations``: hypothesis bodies and a schemathesis run.

Whatever the body (any JSON value, any Unicode including lone surrogates sent as JSON escapes,
bytes that are not JSON), the service answers 200, 400, 413 or 422, never 5xx, and every 200
body matches the OpenAI moderation schema. The detector is a fixed-score fake, so examples
are fast; example counts are bounded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.servers import serve

from harmscope.guard import ANY, Guard
from harmscope.guard.app import create_app
from harmscope.guard.schemas import OPENAI_CATEGORIES, ModerationResponse

ALLOWED = {200, 400, 413, 422}
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class FixedDetector:
    """The same scores for every text; fails like a tokenizer on text UTF-8 cannot carry."""

    name = "fixed"

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        for text in texts:
            text.encode("utf-8")
        return [{ANY: 0.7, "violence": 0.7} for _ in texts]


def make_app() -> Any:
    return create_app(Guard([FixedDetector()]), max_body_bytes=50_000, warmup=False)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(make_app()) as base:
        yield base


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as c:
        yield c


# Any code point, surrogates included (json.dumps sends them as \\udxxx escapes).
texts = st.text(st.characters() | st.sampled_from(["\ud800", "\udfff", "\ud83d", "\ude00"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(texts, inner, max_size=5),
    max_leaves=20,
)
inputs = (
    texts
    | st.lists(texts, min_size=1, max_size=5)
    | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": texts}), max_size=3)
    | json_values
)


def check(r: httpx.Response) -> None:
    assert r.status_code in ALLOWED, (r.status_code, r.text[:500])
    body = r.json()
    if r.status_code != 200:
        assert isinstance(body["error"]["message"], str) and "Traceback" not in r.text
        return
    parsed = ModerationResponse.model_validate(body)
    assert parsed.results
    for res in parsed.results:
        assert set(res.categories) == set(OPENAI_CATEGORIES)
        assert set(res.category_scores) == set(OPENAI_CATEGORIES)
        assert all(0.0 <= v <= 1.0 for v in res.category_scores.values())


def post(client: httpx.Client, payload: Any) -> httpx.Response:
    content = json.dumps(payload).encode()  # ensure_ascii: surrogates become JSON escapes
    return client.post(
        "/v1/moderations", content=content, headers={"content-type": "application/json"}
    )


@FUZZ
@given(value=inputs)
def test_any_input_value(client: httpx.Client, value: Any) -> None:
    check(post(client, {"input": value}))


@FUZZ
@given(value=json_values)
def test_any_json_body(client: httpx.Client, value: Any) -> None:
    check(post(client, value))


@FUZZ
@given(raw=st.binary(max_size=200) | texts.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_body(client: httpx.Client, raw: bytes) -> None:
    r = client.post("/v1/moderations", content=raw, headers={"content-type": "application/json"})
    check(r)


def test_valid_text_is_answered(client: httpx.Client) -> None:
    r = post(client, {"input": ["plain", "ünïcödé 😀", "\u0000 nul"]})
    assert r.status_code == 200, r.text
    check(r)


schemathesis = pytest.importorskip("schemathesis")
# The chat proxy needs an upstream model (its own tests run one); every other operation here.
schema = schemathesis.openapi.from_asgi("/openapi.json", make_app()).exclude(
    path="/v1/chat/completions"
)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_operations_conform(case: Any) -> None:
    response = case.call()
    assert response.status_code < 500, (case.path, response.text[:500])
    case.validate_response(response)
