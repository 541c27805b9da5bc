import json

from harmscope.cards import RiskCard, riskcard_json_schema, write_schema
from harmscope.cards.model import SCHEMA_PATH


def test_checked_in_schema_is_up_to_date(tmp_path):
    fresh = write_schema(tmp_path / "s.json").read_text()
    assert SCHEMA_PATH.read_text() == fresh, (
        "schema out of date: run python -c 'from harmscope.cards import write_schema; "
        "write_schema()'"
    )


def test_schema_describes_the_card():
    schema = riskcard_json_schema()
    props = schema["properties"]
    for field in ("schema_version", "categorisation", "evidence", "assessment", "actors"):
        assert field in props, field
    assert props["schema_version"]["const"] == 1
    assert "JudgeError" in schema["$defs"] and "RedactionOptions" in schema["$defs"]
    recall = schema["$defs"]["JudgeError"]["properties"]["recall"]["anyOf"]
    assert {"type": "number", "minimum": 0.0, "maximum": 1.0} in recall, "bounded or null"
    assert (
        "Wilson" in schema["$defs"]["Evidence"]["properties"]["unsafe_compliance"]["description"]
    ), "attribute docstrings become schema descriptions"


def test_card_round_trips_through_json():
    card = RiskCard(
        id="harmscope.hate",
        kind="category",
        title="t",
        description="d",
        categorisation={"harmscope": ["hate"], "llamaguard3": ["S10"]},
    )
    back = RiskCard.model_validate(json.loads(card.model_dump_json()))
    assert back == card and back.schema_version == 1
