"""The template families in ``templates.yaml``: every one loads, and a broken file says so."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from harmscope._yaml import safe_load
from harmscope.errors import DataError, NotFoundError
from harmscope.transforms import families, list_transforms, registry
from harmscope.transforms.templated import TEMPLATES_FILE, load_templated, template_families

RAW = safe_load(resources.files("harmscope.transforms").joinpath(TEMPLATES_FILE).read_text("utf-8"))

GOOD = """\
demo:
  doc: A demo family.
  transforms:
  - id: demo.one
    description: One.
    templates: ["Please: {request}", "{request} now"]
"""


def test_the_file_holds_the_seven_template_families() -> None:
    assert template_families() == (
        "authority",
        "continuation",
        "format",
        "prefix",
        "pretext",
        "roleplay",
        "suppression",
    )


@pytest.mark.parametrize("family", sorted(RAW))
def test_every_family_loads_into_the_registry_with_its_templates(family: str) -> None:
    entries = RAW[family]["transforms"]
    loaded = load_templated(family)
    doc = RAW[family]["doc"]
    assert re.search(r"et\s+al\.\s+\d{4}", doc), "each family's doc keeps its literature reference"
    assert [t.id for t in loaded] == [e["id"] for e in entries]
    assert [t.description for t in loaded] == [e["description"] for e in entries]
    assert families()[family] == sorted(e["id"] for e in entries)
    for transform, entry in zip(loaded, entries, strict=True):
        assert registry.get(transform.id) is transform
        assert entry["templates"], f"{transform.id}: no templates"
        for template in entry["templates"]:
            assert template.count("{request}") >= 1, f"{transform.id}: {template!r}"


def test_loading_is_cached() -> None:
    assert load_templated("prefix") is load_templated("prefix")


def test_transform_ids_are_unique_across_the_registry() -> None:
    in_file = [e["id"] for family in RAW.values() for e in family["transforms"]]
    assert len(in_file) == len(set(in_file))
    ids = [t.id for t in list_transforms()]
    assert len(ids) == len(set(ids))
    assert set(in_file) <= set(ids)


def test_a_file_can_be_read_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(GOOD, "utf-8")
    (one,) = load_templated("demo", path)
    assert (one.id, one.family, one.description) == ("demo.one", "demo", "One.")
    with pytest.raises(NotFoundError, match="no template family 'nope'"):
        load_templated("nope", path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("demo: [unclosed\n", "while parsing"),
        ("- just\n- a list\n", "valid dictionary"),
        (GOOD.replace("    description: One.\n", ""), "description"),
        (GOOD.replace("doc:", "docs:"), "doc"),
        (GOOD.replace('"{request} now"', '"no slot"'), "demo.one: template without a {request}"),
        (GOOD.replace("id: demo.one", "id: other.one"), "starts with 'demo.'"),
    ],
    ids=["not-yaml", "not-a-mapping", "missing-field", "unknown-field", "no-slot", "wrong-family"],
)
def test_a_malformed_file_is_a_data_error_naming_the_file(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(DataError) as info:
        load_templated("demo", path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a valid transform template file")
    assert says in message
