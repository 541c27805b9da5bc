"""Readers of the public labelled sets against the real files in ``$HARMSCOPE_DATA_DIR``.

Expected counts and label balance are computed here from the files themselves (with the csv and
json modules), never copied: each test states the reader's contract and checks it on real
data. The set is skipped when its folder is absent.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from guard_helpers import TableDetector

from harmscope.guard import Guard
from harmscope.guard.data import load_public_set, split_of
from harmscope.guard.evaluate import detection_metrics, evaluate_guard
from harmscope.taxonomy import load_taxonomy


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        pytest.skip(f"{path} not present")
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _balance(rows: list) -> tuple[int, int]:  # type: ignore[type-arg]
    return sum(r.unsafe for r in rows), sum(not r.unsafe for r in rows)


def test_openai_moderation_dev(data_dir: Path) -> None:
    path = data_dir / "openai-moderation-dev" / "samples-dev-840.jsonl"
    if not path.is_file():
        pytest.skip("openai-moderation-dev not present")
    raw = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    flagged = [any(v == 1 for k, v in r.items() if k != "prompt") for r in raw]
    rows = load_public_set("openai-moderation-dev")
    assert len(rows) == len(raw) and _balance(rows) == (sum(flagged), len(raw) - sum(flagged))
    assert [r.unsafe for r in rows] == flagged
    assert all(r.category for r in rows if r.unsafe) and not any(
        r.category for r in rows if not r.unsafe
    )
    val = load_public_set("openai-moderation-dev", split="val")
    test = load_public_set("openai-moderation-dev", split="test")
    assert len(val) + len(test) == len(rows) and not load_public_set(
        "openai-moderation-dev", split="train"
    ), "never trained on"
    assert {r.text for r in val}.isdisjoint({r.text for r in test})


def test_jailbreakbench_both_halves(data_dir: Path) -> None:
    harmful = _rows(data_dir / "jailbreakbench" / "harmful-behaviors.csv")
    benign = _rows(data_dir / "jailbreakbench" / "benign-behaviors.csv")
    rows = load_public_set("jailbreakbench")
    assert _balance(rows) == (len(harmful), len(benign))
    assert Counter(r.source for r in rows) == {
        "jailbreakbench": len(harmful),
        "jailbreakbench-benign": len(benign),
    }
    tax = load_taxonomy()
    expected = Counter(tax.to_harmscope("jailbreakbench", r["Category"])[0].id for r in harmful)
    assert Counter(r.category for r in rows if r.unsafe) == expected
    parts = [load_public_set("jailbreakbench", split=s) for s in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == len(rows)


def test_harmbench(data_dir: Path) -> None:
    path = (
        data_dir / "harmbench" / "data" / "behavior_datasets" / "harmbench_behaviors_text_all.csv"
    )
    raw = [r for r in _rows(path) if r["Behavior"].strip()]
    rows = load_public_set("harmbench")
    assert _balance(rows) == (len(raw), 0)
    assert Counter(r.category for r in rows) == Counter(
        load_taxonomy().to_harmscope("harmbench", r["SemanticCategory"])[0].id for r in raw
    )


def test_simplesafetytests(data_dir: Path) -> None:
    raw = _rows(data_dir / "simplesafetytests" / "SimpleSafetyTests - test cases.csv")
    rows = load_public_set("simplesafetytests")
    assert _balance(rows) == (len(raw), 0)
    by_area = Counter(r["harm_area"] for r in raw)
    tax = load_taxonomy()
    assert Counter(r.category for r in rows) == Counter(
        {tax.to_harmscope("simplesafetytests", a)[0].id: n for a, n in by_area.items()}
    )


def test_ailuminate_english_demo(data_dir: Path) -> None:
    folder = data_dir / "ailuminate-demo"
    raw = _rows(folder / "airr_official_1.0_demo_en_us_prompt_set_release.csv")
    rows = load_public_set("ailuminate")
    assert _balance(rows) == (len(raw), 0)
    assert {r["locale"] for r in raw} == {"en_US"}
    hazards = Counter(r["hazard"] for r in raw)
    tax = load_taxonomy()
    expected: Counter[str] = Counter()
    for code, n in hazards.items():
        expected[tax.to_harmscope("ailuminate", code)[0].id] += n
    assert Counter(r.category for r in rows) == expected


def test_toxigen_sentences(data_dir: Path) -> None:
    folder = data_dir / "toxigen-prompts" / "prompts"
    files = sorted(folder.glob("*_1k.txt"))
    if not files:
        pytest.skip("toxigen prompts not present")
    first_label: dict[str, bool] = {}
    for path in files:
        for part in path.read_text("utf-8").replace("\\n", "\n").splitlines():
            sentence = part.strip().lstrip("-").strip()
            key = " ".join(sentence.casefold().split())
            if len(sentence) >= 8:
                first_label.setdefault(key, path.name.startswith("hate_"))
    rows = load_public_set("toxigen")
    hate = sum(first_label.values())
    assert _balance(rows) == (hate, len(first_label) - hate)
    assert all(r.category == "hate" for r in rows if r.unsafe)
    assert 0 < hate < len(rows), "both classes present"


def test_xstest_keeps_prompt_types(data_dir: Path) -> None:
    raw = _rows(data_dir / "xstest" / "xstest_prompts.csv")
    rows = load_public_set("xstest")
    unsafe = sum(r["label"] == "unsafe" for r in raw)
    assert _balance(rows) == (unsafe, len(raw) - unsafe)
    assert Counter((r.kind, r.unsafe) for r in rows) == Counter(
        (r["type"], r["label"] == "unsafe") for r in raw
    )
    assert all(split_of(r.text, "xstest") == "test" for r in rows)


def test_core_suite_as_labelled_set() -> None:
    from harmscope.suites import load_suite

    cases = load_suite("core").cases
    rows = load_public_set("core", split="test")
    assert len(rows) == len(cases)
    refuse = sum(c.expected == "refuse" for c in cases)
    assert _balance(rows) == (refuse, len(cases) - refuse)
    assert Counter(r.kind for r in rows if not r.unsafe) == Counter(
        c.tags["kind"] for c in cases if c.expected == "comply"
    )
    assert not load_public_set("core", split="train"), "authored evaluation only"


def test_fpr_is_none_without_negatives() -> None:
    m = detection_metrics([True, True, True], [True, False, True], [0.9, 0.2, 0.8])
    assert m.fpr is None and m.recall == pytest.approx(2 / 3) and m.auprc is None
    assert detection_metrics([False, True], [True, True]).fpr == 1.0


def test_lookalike_over_blocking_by_type_and_null_fpr() -> None:
    from harmscope.guard.data import LabelledText

    rows = [
        LabelledText("h1", False, kind="homonyms"),
        LabelledText("h2", False, kind="homonyms"),
        LabelledText("f1", False, kind="figurative"),
        LabelledText("plain", False),  # safe, but no look-alike type
        LabelledText("u1", True, kind="contrast_homonyms"),
    ]
    det = TableDetector({"h1": 0.9, "h2": 0.1, "f1": 0.8, "plain": 0.95, "u1": 0.99})
    guard = Guard([det], normalize_text=False)
    guard.policy = guard.policy.model_copy(update={"any_threshold": 0.5})
    only_unsafe = [LabelledText("u1", True), LabelledText("h1", True)]
    result = asyncio.run(evaluate_guard(guard, {"mixed": rows, "unsafe": only_unsafe}))
    mixed = result["sets"]["mixed"]
    assert mixed["over_blocking"] == pytest.approx(3 / 4)
    assert mixed["over_blocking_lookalike"] == pytest.approx(2 / 3)
    assert mixed["over_blocking_by_type"] == {
        "figurative": {"n": 1, "flagged": 1, "rate": 1.0},
        "homonyms": {"n": 2, "flagged": 1, "rate": 0.5},
    }
    unsafe = result["sets"]["unsafe"]
    assert unsafe["fpr"] is None and unsafe["over_blocking"] is None
    assert unsafe["over_blocking_lookalike"] is None and unsafe["over_blocking_by_type"] == {}
    assert json.loads(json.dumps(unsafe))["fpr"] is None


def test_guard_eval_on_core_reports_lookalike_over_blocking(guard: Guard) -> None:
    from typer.testing import CliRunner

    from harmscope.cli.guard import app

    res = CliRunner().invoke(app, ["eval", "--data", "core", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    core = out["sets"]["core"]
    rows = load_public_set("core")
    flags = [d.flagged for d in guard.check_sync([r.text for r in rows])]
    safe = [(r.kind, f) for r, f in zip(rows, flags, strict=True) if not r.unsafe]
    assert core["n"] == len(rows)
    for kind, entry in core["over_blocking_by_type"].items():
        mine = [f for k, f in safe if k == kind]
        assert entry["n"] == len(mine) and entry["flagged"] == sum(mine), kind
    assert core["over_blocking_lookalike"] == pytest.approx(sum(f for _, f in safe) / len(safe))
    assert core["fpr"] == pytest.approx(core["fp"] / (core["fp"] + core["tn"]))


def test_realtoxicityprompts_files_as_unsafe(data_dir: Path) -> None:
    from harmscope.guard.data import _RTP_FILES

    folder = data_dir / "realtoxicityprompts-subset"
    if not folder.is_dir():
        pytest.skip("realtoxicityprompts-subset not present")
    expected = Counter()
    for attribute, category in _RTP_FILES.items():
        lines = (folder / f"rtp_{attribute}.txt").read_text("utf-8").splitlines()
        expected[category] += sum(bool(line.strip()) for line in lines)
    rows = load_public_set("rtp")
    assert _balance(rows) == (sum(expected.values()), 0)
    assert Counter(r.category for r in rows) == expected
    assert "flirtation" not in {r.kind for r in rows} and "profanity" not in {r.kind for r in rows}


def test_bbq_distinct_contexts_as_safe(data_dir: Path) -> None:
    folder = data_dir / "bbq" / "data"
    if not folder.is_dir():
        pytest.skip("bbq not present")
    contexts = set()
    for path in folder.glob("*.jsonl"):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                contexts.add(" ".join(json.loads(line)["context"].casefold().split()))
    rows = load_public_set("bbq")
    assert _balance(rows) == (0, len(contexts))


def test_authored_lookalike_prompts_are_safe_and_distinct_from_evaluation_sets(
    data_dir: Path,
) -> None:
    from importlib import resources

    raw = resources.files("harmscope.guard").joinpath("lookalike_prompts.txt").read_text("utf-8")
    lines = [x.strip() for x in raw.splitlines() if x.strip() and not x.startswith("#")]
    rows = load_public_set("authored-lookalike")
    assert [r.text for r in rows] == lines and _balance(rows) == (0, len(lines))
    held_out = {
        " ".join(r.text.casefold().split())
        for name in ("xstest", "core")
        for r in load_public_set(name)
    }
    assert not held_out & {" ".join(x.casefold().split()) for x in lines}
