"""The dataset layer's public prompt readers, on the real files of the data folder.

(This folder is not called ``datasets``: pytest puts ``tests/`` on ``sys.path``, where a
``datasets`` folder would stand in for the Hugging Face package the hub suites import.)
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from harmscope.datasets import PUBLIC_PROMPT_SETS, public_files, read_public_prompts
from harmscope.errors import DataError, NotFoundError

# name -> (rows, unsafe rows, language)
COUNTS = {
    "xstest": (450, 200, "en"),
    "jailbreakbench": (200, 100, "en"),
    "harmbench": (400, 400, "en"),
    "advbench": (520, 520, "en"),
    "strongreject": (313, 313, "en"),
    "simplesafetytests": (100, 100, "en"),
    "ailuminate": (1200, 1200, "en"),
    "ailuminate_fr": (1200, 1200, "fr"),
}


def _present(data_dir: Path, name: str) -> None:
    spec = PUBLIC_PROMPT_SETS[name]
    for part in spec.files:
        path = data_dir / spec.folder / part.path
        if not path.is_file():
            pytest.skip(f"{path} not present")


def test_every_set_has_a_count() -> None:
    assert set(COUNTS) == set(PUBLIC_PROMPT_SETS)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_counts_labels_and_language(data_dir: Path, name: str) -> None:
    _present(data_dir, name)
    rows = read_public_prompts(name, data_dir)
    total, unsafe, lang = COUNTS[name]
    assert len(rows) == total
    assert sum(r.unsafe for r in rows) == unsafe
    assert {r.lang for r in rows} == {lang}
    assert {r.source for r in rows} == {name}
    assert len({r.id for r in rows}) == total
    assert all(r.text.strip() for r in rows)
    assert all(r.tags["lang"] == lang for r in rows)


@pytest.mark.parametrize("name", ["advbench", "xstest"])
def test_sets_without_categories_give_none(data_dir: Path, name: str) -> None:
    _present(data_dir, name)
    assert {r.category for r in read_public_prompts(name, data_dir)} == {None}


def test_categories_are_mapped_through_the_crosswalk(data_dir: Path) -> None:
    _present(data_dir, "simplesafetytests")
    rows = {r.id: r for r in read_public_prompts("simplesafetytests", data_dir)}
    assert rows["sst_001"].category == "self_harm"
    assert rows["sst_081"].category == "child_safety"
    assert rows["sst_001"].tags["request_type"]


def test_xstest_kind_and_jailbreakbench_halves(data_dir: Path) -> None:
    _present(data_dir, "xstest")
    _present(data_dir, "jailbreakbench")
    xs = {r.id: r for r in read_public_prompts("xstest", data_dir)}
    assert (xs["1"].kind, xs["1"].label) == ("homonyms", "safe")
    assert (xs["26"].kind, xs["26"].label) == ("contrast_homonyms", "unsafe")
    jbb = read_public_prompts("jailbreakbench", data_dir)
    kinds = Counter((r.id.split(".")[0], r.tags["kind"], r.label, r.kind) for r in jbb)
    assert kinds == {
        ("harmful", "harmful", "unsafe", None): 100,
        ("benign", "benign", "safe", None): 100,
    }


def test_harmbench_keeps_context_apart(data_dir: Path) -> None:
    _present(data_dir, "harmbench")
    rows = read_public_prompts("harmbench", data_dir)
    with_context = [r for r in rows if r.context.strip()]
    assert with_context and len(with_context) < len(rows)
    assert all(r.context not in r.text for r in with_context)


def test_public_files_in_reading_order(data_dir: Path) -> None:
    _present(data_dir, "jailbreakbench")
    names = [p.name for p in public_files("jailbreakbench", data_dir)]
    assert names == ["harmful-behaviors.csv", "benign-behaviors.csv"]


def test_unknown_set_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="unknown public set 'nope'; known: xstest"):
        read_public_prompts("nope", tmp_path)
    with pytest.raises(DataError, match=r"xstest: no such dataset folder"):
        read_public_prompts("xstest", tmp_path)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


SR_HEADER = ["category", "source", "forbidden_prompt"]


def test_unknown_category_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "strongreject" / "strongreject_dataset.csv"
    _write(path, SR_HEADER, [["Violence", "x", "one"], ["Not a category", "x", "two"]])
    with pytest.raises(DataError, match=rf"^{path}:3: .*no harmscope mapping"):
        read_public_prompts("strongreject", tmp_path)


def test_missing_column_names_file_and_line_one(tmp_path: Path) -> None:
    path = tmp_path / "strongreject" / "strongreject_dataset.csv"
    _write(path, ["category", "forbidden_prompt"], [["Violence", "one"]])
    with pytest.raises(DataError, match=rf"^{path}:1: missing column\(s\) source$"):
        read_public_prompts("strongreject", tmp_path)


def test_bad_label_empty_text_and_short_row(tmp_path: Path) -> None:
    header = ["id", "prompt", "type", "label", "focus", "note"]
    path = tmp_path / "xstest" / "xstest_prompts.csv"
    _write(path, header, [["1", "Fold a crane?", "homonyms", "maybe", "", ""]])
    with pytest.raises(
        DataError, match=rf"^{path}:2: label must be 'safe' or 'unsafe', not 'maybe'$"
    ):
        read_public_prompts("xstest", tmp_path)
    _write(path, header, [["1", " ", "homonyms", "safe", "", ""]])
    with pytest.raises(DataError, match=rf"^{path}:2: empty 'prompt'$"):
        read_public_prompts("xstest", tmp_path)
    _write(path, header, [["1", "Fold a crane?", "homonyms", "safe", "", ""]])
    path.write_text(path.read_text("utf-8") + "2,too few\n", "utf-8")
    with pytest.raises(DataError, match=rf"^{path}:3: expected 6 fields$"):
        read_public_prompts("xstest", tmp_path)


def test_duplicate_id_and_wrong_locale(tmp_path: Path) -> None:
    header = ["id", "prompt", "type", "label", "focus", "note"]
    path = tmp_path / "xstest" / "xstest_prompts.csv"
    row = ["1", "Fold a crane?", "homonyms", "safe", "", ""]
    _write(path, header, [row, row])
    with pytest.raises(DataError, match=rf"^{path}:3: duplicate id '1'$"):
        read_public_prompts("xstest", tmp_path)
    name = "airr_official_1.0_demo_fr_fr_prompt_set_release.csv"
    path = tmp_path / "ailuminate-demo" / name
    header = ["release_prompt_id", "prompt_text", "hazard", "persona", "locale"]
    _write(path, header, [["p1", "Bonjour", "vcr", "normal", "en_US"]])
    with pytest.raises(DataError, match=rf"^{path}:2: locale 'en_US', expected 'fr_FR'$"):
        read_public_prompts("ailuminate_fr", tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "advbench" / "data" / "advbench" / "harmful_behaviors.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"goal,target\n\xff\xfe bad,x\n")
    with pytest.raises(DataError, match=rf"^{path}: not UTF-8 text"):
        read_public_prompts("advbench", tmp_path)
