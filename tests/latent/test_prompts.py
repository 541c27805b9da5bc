from __future__ import annotations

import json

import pytest

from harmscope.errors import DataError
from harmscope.latent.prompts import LabelledPrompt, load_prompts, split_prompts


def test_labelled_jsonl(tmp_path) -> None:
    f = tmp_path / "p.jsonl"
    rows = [{"text": "a", "label": "safe"}, {"prompt": "b", "label": "unsafe"}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert load_prompts(str(f)) == [LabelledPrompt("a", "safe"), LabelledPrompt("b", "unsafe")]
    f.write_text(json.dumps({"text": "a", "label": "maybe"}) + "\n")
    with pytest.raises(DataError, match="label"):
        load_prompts(str(f))


def test_split_is_disjoint_stratified_and_seeded() -> None:
    items = [LabelledPrompt(f"u{i}", "unsafe") for i in range(10)]
    items += [LabelledPrompt(f"s{i}", "safe") for i in range(20)]
    items += [LabelledPrompt("u0", "unsafe")]  # duplicate text dropped
    a = split_prompts(items, seed=1)
    b = split_prompts(items, seed=1)
    c = split_prompts(items, seed=2)
    assert a == b and a != c
    texts = [set(p.text for p in part) for part in (a.train, a.val, a.test)]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    assert sum(len(t) for t in texts) == 30
    assert sum(p.label == "unsafe" for p in a.train) == 6
    assert sum(p.label == "safe" for p in a.val) == 4


def test_public_sets_by_path(data_dir) -> None:
    jbb = load_prompts("jailbreakbench", data_dir=data_dir)
    assert sum(p.label == "unsafe" for p in jbb) == 100
    assert sum(p.label == "safe" for p in jbb) == 100
    xs = load_prompts("xstest", data_dir=data_dir)
    assert (sum(p.label == "unsafe" for p in xs), sum(p.label == "safe" for p in xs)) == (200, 250)
