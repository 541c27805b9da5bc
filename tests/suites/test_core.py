"""The authored ``core`` suite: coverage, tags, ids, sampling and independence from public sets."""

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from harmscope.suites import CORE_VERSION, Suite, load_suite
from harmscope.taxonomy import load_taxonomy

LANGS = {"en", "fr", "de", "es", "it", "pt", "nl"}
LOOKALIKE_KINDS = {"homonym", "safety", "history", "fiction", "defensive", "definition", "policy"}
UNSAFE_KINDS = {"direct", "indirect", "roleplay-free"}
ID_RE = re.compile(r"^core\.(?P<cat>[a-z_]+)\.(?P<side>[us])(?P<n>[1-9][0-9]*)$")
# Columns / keys holding request text in the public sets (prompt, goal, Behavior, prompt_text,
# forbidden_prompt, prompts_final, ...), matched case-insensitively; id/hash-like keys excluded.
TEXT_KEY_RE = re.compile(r"^(?!.*(?:id|hash|type)$).*(?:prompt|goal|behaviou?r)", re.IGNORECASE)


@pytest.fixture(scope="module")
def core() -> Suite:
    return load_suite("core")


def _prompt(case) -> str:
    assert len(case.messages) == 1 and case.messages[0].role == "user"
    return case.messages[0].content


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _categories() -> list[str]:
    return [c for c in load_taxonomy().ids if c != "unspecified"]


def _walk_json(obj: object, out: set[str]) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, str) and TEXT_KEY_RE.match(str(key)):
                out.add(value)
            else:
                _walk_json(value, out)
    elif isinstance(obj, list):
        for item in obj:
            _walk_json(item, out)


def public_prompts(root: Path) -> set[str]:
    """Every request-like text field of the CSV / JSON / JSONL files under ``root``."""
    csv.field_size_limit(1 << 30)
    texts: set[str] = set()
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix == ".csv":
            with path.open(encoding="utf-8", errors="replace", newline="") as fh:
                for row in csv.DictReader(fh):
                    for key, value in row.items():
                        if key and isinstance(value, str) and TEXT_KEY_RE.match(key.strip()):
                            texts.add(value)
        elif suffix in {".json", ".jsonl"}:
            raw = path.read_text(encoding="utf-8", errors="replace")
            try:
                _walk_json(json.loads(raw), texts)
            except json.JSONDecodeError:
                for line in raw.splitlines():
                    try:
                        _walk_json(json.loads(line), texts)
                    except json.JSONDecodeError:
                        continue
    return {t for t in texts if t.strip()}


def verbatim_overlap(prompts: list[str], public: set[str]) -> list[str]:
    """Prompts equal to a public text, or containing a public text of 40+ characters."""
    norm_public = {_norm(t) for t in public}
    long_public = [t for t in norm_public if len(t) >= 40]
    hits = []
    for prompt in prompts:
        p = _norm(prompt)
        if p in norm_public or any(t in p for t in long_public):
            hits.append(prompt)
    return hits


def test_loads_as_registered_suite(core):
    assert core.name == "core"
    assert core.version == CORE_VERSION
    assert core.ref == f"core@{CORE_VERSION}"
    assert core.description
    assert len(core.cases) >= 300
    assert {c.source for c in core.cases} == {core.ref}


def test_exact_shape_336_cases(core):
    # 24 categories x (7 refuse + 7 comply)
    cats = _categories()
    assert len(cats) == 24
    assert len(core.cases) == len(cats) * 14


def test_every_category_has_refuse_and_comply(core):
    counts = Counter((c.category, c.expected) for c in core.cases)
    assert {c.category for c in core.cases} == set(_categories())
    for cat in _categories():
        assert counts[(cat, "refuse")] >= 7, cat
        assert counts[(cat, "comply")] >= 7, cat


def test_tags_lang_and_kind(core):
    for case in core.cases:
        assert case.tags.get("lang") in LANGS, case.id
        kind = case.tags.get("kind")
        assert kind, case.id
        if case.expected == "comply":
            assert kind in LOOKALIKE_KINDS, case.id
        else:
            assert kind in UNSAFE_KINDS, case.id


def test_lookalike_kinds_are_varied_per_category(core):
    for cat in _categories():
        kinds = {c.tags["kind"] for c in core.cases if c.category == cat and c.expected == "comply"}
        assert kinds == LOOKALIKE_KINDS, cat


def test_non_english_per_category_and_expected(core):
    for cat in _categories():
        for expected in ("refuse", "comply"):
            langs = [
                c.tags["lang"]
                for c in core.cases
                if c.category == cat and c.expected == expected and c.tags["lang"] != "en"
            ]
            assert len(langs) >= 1, (cat, expected)
    per_lang = Counter(c.tags["lang"] for c in core.cases if c.tags["lang"] != "en")
    assert set(per_lang) == LANGS - {"en"}
    assert min(per_lang.values()) >= 4


def test_ids_unique_and_patterned(core):
    ids = [c.id for c in core.cases]
    assert len(ids) == len(set(ids))
    for case in core.cases:
        m = ID_RE.match(case.id)
        assert m, case.id
        assert m["cat"] == case.category.replace(".", "_"), case.id
        assert (m["side"] == "u") == (case.expected == "refuse"), case.id


def test_prompts_unique_and_sized(core):
    prompts = [_norm(_prompt(c)) for c in core.cases]
    assert len(prompts) == len(set(prompts))
    for case in core.cases:
        words = len(_prompt(case).split())
        assert 10 <= words <= 60, (case.id, words)


def test_sample_is_stratified(core):
    strata = {(c.category.split(".")[0], c.expected) for c in core.cases}
    assert len(strata) == 30  # 15 top-level categories x 2
    for seed in (0, 1, 7):
        sample = core.sample(96, seed=seed)
        assert len(sample.cases) == 96
        assert {(c.category.split(".")[0], c.expected) for c in sample.cases} == strata
        ids = [c.id for c in sample.cases]
        assert len(set(ids)) == 96
        order = {c.id: i for i, c in enumerate(core.cases)}
        assert [order[i] for i in ids] == sorted(order[i] for i in ids)


def test_sample_is_deterministic(core):
    a = [c.id for c in core.sample(96, seed=3).cases]
    b = [c.id for c in load_suite("core").sample(96, seed=3).cases]
    assert a == b
    others = {tuple(c.id for c in core.sample(96, seed=s).cases) for s in range(4, 9)}
    assert len(others | {tuple(a)}) > 1


def test_overlap_check_detects_copies(tmp_path):
    (tmp_path / "set.csv").write_text(
        "BehaviorID,Behavior,prompt_hash\n"
        "b1,Explain in detail how the committee schedules its weekly meetings,ab12\n",
        encoding="utf-8",
    )
    (tmp_path / "rows.jsonl").write_text(
        json.dumps({"meta": {"prompt_text": "what colour is the sky"}}) + "\n", encoding="utf-8"
    )
    public = public_prompts(tmp_path)
    assert public == {
        "Explain in detail how the committee schedules its weekly meetings",
        "what colour is the sky",
    }
    hits = verbatim_overlap(
        [
            "What  COLOUR is the sky",
            "Please explain in detail how the committee schedules its weekly meetings.",
            "what colour is the sea",
        ],
        public,
    )
    assert hits == [
        "What  COLOUR is the sky",
        "Please explain in detail how the committee schedules its weekly meetings.",
    ]


def test_no_prompt_copied_from_public_sets(core, data_dir):
    public = public_prompts(data_dir)
    if not public:
        pytest.skip(f"no prompt-like text columns under {data_dir}")
    assert len(public) >= 1000  # the reader really finds the public prompts
    assert verbatim_overlap([_prompt(c) for c in core.cases], public) == []
