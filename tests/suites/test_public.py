import csv
import shutil
import time
from collections import Counter

import pytest
from tests.servers import free_port

from harmscope.errors import DataError
from harmscope.suites import load_suite, registry
from harmscope.suites.hub import (
    HubSpec,
    load_hub_suite,
    parse_hub_spec,
    read_rows,
    select_files,
    suite_from_rows,
)
from harmscope.suites.public import HARMBENCH_CONTEXT_SEPARATOR, content_version
from harmscope.taxonomy import load_taxonomy

# name -> (rows per SOURCE.md, {expected: count}, expected "lang" tag)
COUNTS = {
    "xstest": (450, {"comply": 250, "refuse": 200}, "en"),
    "jailbreakbench": (200, {"comply": 100, "refuse": 100}, "en"),
    "harmbench": (400, {"refuse": 400}, "en"),
    "advbench": (520, {"refuse": 520}, "en"),
    "simplesafetytests": (100, {"refuse": 100}, "en"),
    "strongreject": (313, {"refuse": 313}, "en"),
    "ailuminate": (1200, {"refuse": 1200}, "en"),
    "ailuminate_fr": (1200, {"refuse": 1200}, "fr"),
}

# Hand-mapped from the source files: case id -> (category, expected).
SPOT = {
    "xstest": {
        "xstest.1": ("harmful_other", "comply"),  # type homonyms, label safe
        "xstest.26": ("harmful_other", "refuse"),  # type contrast_homonyms, label unsafe
        "xstest.276": ("hate", "comply"),  # type real_group_nons_discr, label safe
        "xstest.301": ("hate", "refuse"),  # type contrast_discr, label unsafe
        "xstest.376": ("privacy", "comply"),  # type privacy_public, label safe
    },
    "jailbreakbench": {
        "jailbreakbench.harmful.0": ("hate", "refuse"),  # Harassment/Discrimination
        "jailbreakbench.harmful.30": ("nonviolent_crime.fraud", "refuse"),  # Economic harm
        "jailbreakbench.benign.90": ("specialized_advice.elections", "comply"),  # Government d-m
    },
    "harmbench": {
        "harmbench.dimethylmercury_instructions_home": ("indiscriminate_weapons", "refuse"),
        "harmbench.bleach_rubbing_alcohol_mixing_enticement": ("harmful_other", "refuse"),
        "harmbench.lyrics_wonderful_world": ("intellectual_property", "refuse"),
        "harmbench.blind_sql_injection_rate_captcha": ("nonviolent_crime.cyber", "refuse"),
    },
    "advbench": {"advbench.0": ("harmful_other", "refuse")},
    "simplesafetytests": {
        "simplesafetytests.sst_001": ("self_harm", "refuse"),  # Suicide, Self-Harm, and ED
        "simplesafetytests.sst_061": ("nonviolent_crime.fraud", "refuse"),  # Scams and fraud
        "simplesafetytests.sst_081": ("child_safety", "refuse"),  # Child safety
    },
    "strongreject": {
        "strongreject.0": ("misinformation", "refuse"),  # Disinformation and deception
        "strongreject.50": ("hate", "refuse"),  # Hate, harassment and discrimination
        "strongreject.100": ("nonviolent_crime.drugs", "refuse"),  # Illegal goods and services
    },
    "ailuminate": {
        "ailuminate.airr_practice_1_0_156733": ("child_safety", "refuse"),  # cse
        "ailuminate.airr_practice_1_0_91711": ("privacy", "refuse"),  # prv
        "ailuminate.airr_practice_1_0_89490": ("specialized_advice.elections", "refuse"),  # spc_ele
    },
    "ailuminate_fr": {
        "ailuminate_fr.airr_practice_1_0_88295": ("specialized_advice.health", "refuse"),
        "ailuminate_fr.airr_practice_1_0_85966": ("violent_crime", "refuse"),  # vcr
        "ailuminate_fr.airr_practice_1_0_30800": ("privacy", "refuse"),  # prv
    },
}

STRONGREJECT_HATE = "Hate, harassment and discrimination"


def _load(name, data_dir):
    if name == "strongreject":
        load_taxonomy().to_harmscope("strongreject", STRONGREJECT_HATE)
    return registry.get(name)(data_dir=data_dir)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_public_suite_loads_real_file(name, data_dir):
    suite = _load(name, data_dir)
    rows, expected, lang = COUNTS[name]
    assert len(suite.cases) == rows, "row count differs from SOURCE.md"
    assert dict(Counter(c.expected for c in suite.cases)) == expected
    tax = load_taxonomy()
    for case in suite.cases:
        assert tax.get(case.category).id == case.category
        assert case.id.startswith(f"{name}.")
        assert case.source == f"{name}@{suite.version}" == suite.ref
        assert case.tags["lang"] == lang
        assert case.prompt.strip()
    assert len({c.id for c in suite.cases}) == rows, "case ids must be unique"
    assert len(suite.version) == 12 and int(suite.version, 16) >= 0
    by_id = {c.id: c for c in suite.cases}
    for case_id, (category, behaviour) in SPOT[name].items():
        assert (by_id[case_id].category, by_id[case_id].expected) == (category, behaviour), case_id


def test_xstest_tags_and_public_entry(data_dir):
    suite = load_suite("xstest")
    assert suite.name == "xstest" and len(suite.cases) == 450
    kinds = Counter(c.tags["kind"] for c in suite.cases)
    assert len(kinds) == 18 and set(kinds.values()) == {25}
    for case in suite.cases:
        assert case.tags["kind"].startswith("contrast_") == (case.expected == "refuse")


def test_harmbench_context_prepended(data_dir):
    path = data_dir / "harmbench/data/behavior_datasets/harmbench_behaviors_text_all.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = {r["BehaviorID"]: r for r in csv.DictReader(fh)}
    suite = registry.get("harmbench")(data_dir=data_dir)
    functional = Counter(c.tags["functional"] for c in suite.cases)
    assert functional == {"standard": 200, "contextual": 100, "copyright": 100}
    for case in suite.cases:
        row = rows[case.id.removeprefix("harmbench.")]
        if row["ContextString"].strip():
            assert (
                case.prompt == row["ContextString"] + HARMBENCH_CONTEXT_SEPARATOR + row["Behavior"]
            )
        else:
            assert case.prompt == row["Behavior"]


def test_advbench_ids_follow_row_order(data_dir):
    path = data_dir / "advbench/data/advbench/harmful_behaviors.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        goals = [r["goal"] for r in csv.DictReader(fh)]
    suite = registry.get("advbench")(data_dir=data_dir)
    assert [c.prompt for c in suite.cases] == goals
    assert suite.cases[7].id == "advbench.7"


# --- errors ----------------------------------------------------------------------------------


def test_missing_data_dir_names_path_and_setting(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("HARMSCOPE_DATA_DIR", str(missing))
    with pytest.raises(DataError) as err:
        load_suite("xstest")
    assert str(missing) in str(err.value) and "HARMSCOPE_DATA_DIR" in str(err.value)


def test_unset_data_dir_names_setting(monkeypatch):
    monkeypatch.delenv("HARMSCOPE_DATA_DIR")
    with pytest.raises(DataError, match="HARMSCOPE_DATA_DIR"):
        load_suite("advbench")


def test_missing_folder_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HARMSCOPE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as err:
        load_suite("jailbreakbench")
    assert str(tmp_path / "jailbreakbench") in str(err.value)
    assert "HARMSCOPE_DATA_DIR" in str(err.value)
    (tmp_path / "jailbreakbench").mkdir()
    (tmp_path / "jailbreakbench" / "harmful-behaviors.csv").write_text("Index\n", "utf-8")
    with pytest.raises(DataError) as err:
        load_suite("jailbreakbench")
    assert str(tmp_path / "jailbreakbench" / "benign-behaviors.csv") in str(err.value)
    assert "no such file" in str(err.value)


def _write_csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


XS_HEADER = ["id", "prompt", "type", "label", "focus", "note"]


def test_malformed_row_reports_file_and_line(tmp_path):
    path = _write_csv(
        tmp_path / "xstest" / "xstest_prompts.csv",
        XS_HEADER,
        [
            ["1", "How do I fold a paper crane?", "homonyms", "safe", "fold", ""],
            ["2", "A prompt\nspread over two lines", "homonyms", "safe", "x", ""],
            ["3", "How do I whittle a spoon?", "homonyms", "maybe", "whittle", ""],
        ],
    )
    with pytest.raises(DataError, match=r"xstest_prompts.csv:5: label must be"):
        registry.get("xstest")(data_dir=tmp_path)
    path.write_text(path.read_text("utf-8") + "4,too few fields\n", "utf-8")
    rows = path.read_text("utf-8").replace("maybe", "unsafe")
    path.write_text(rows, "utf-8")
    with pytest.raises(DataError, match=r"xstest_prompts.csv:6: expected 6 fields"):
        registry.get("xstest")(data_dir=tmp_path)


def test_unmapped_category_and_missing_column(tmp_path):
    header = ["category", "source", "forbidden_prompt"]
    path = _write_csv(
        tmp_path / "strongreject" / "strongreject_dataset.csv",
        header,
        [["Violence", "custom", "one"], ["Not a real category", "custom", "two"]],
    )
    with pytest.raises(DataError, match=r"strongreject_dataset.csv:3: .*no harmscope mapping"):
        registry.get("strongreject")(data_dir=tmp_path)
    _write_csv(path, ["category", "forbidden_prompt"], [["Violence", "one"]])
    with pytest.raises(DataError, match=r"strongreject_dataset.csv:1: missing column\(s\) source"):
        registry.get("strongreject")(data_dir=tmp_path)


def test_version_is_content_hash(tmp_path, data_dir):
    real = registry.get("xstest")(data_dir=data_dir)
    copy = tmp_path / "xstest" / "xstest_prompts.csv"
    copy.parent.mkdir()
    shutil.copyfile(data_dir / "xstest" / "xstest_prompts.csv", copy)
    same = registry.get("xstest")(data_dir=tmp_path)
    assert same.version == real.version == content_version([copy])
    with copy.open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerow(
            ["9999", "How do I juggle three balls?", "homonyms", "safe", "", ""]
        )
    changed = registry.get("xstest")(data_dir=tmp_path)
    assert changed.version != real.version
    assert len(changed.cases) == 451 and changed.cases[-1].source == f"xstest@{changed.version}"


# --- hub -------------------------------------------------------------------------------------


def test_hub_offline_fails_fast(monkeypatch, tmp_path):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    start = time.monotonic()
    with pytest.raises(DataError) as err:
        load_suite("hf:example-org/some-prompts:test")
    message = str(err.value)
    assert message.startswith("cannot reach the Hugging Face hub for 'hf:example-org/some-prompts")
    assert "(offline?)" in message
    assert time.monotonic() - start < 5


def test_hub_unreachable_endpoint_fails_fast(monkeypatch, tmp_path):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens
    start = time.monotonic()
    with pytest.raises(DataError, match=r"cannot reach the Hugging Face hub for 'hf:a/b'.*offline"):
        load_hub_suite("hf:a/b", timeout_s=2, cache_dir=tmp_path)
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("spec", ["xstest", "hf:", "hf:a b/c", "hf:a/b:c:d"])
def test_parse_hub_spec_rejects(spec):
    with pytest.raises(DataError):
        parse_hub_spec(spec)


def test_parse_hub_spec():
    assert parse_hub_spec("hf:org/set:validation") == HubSpec("org/set", "validation")
    assert parse_hub_spec("hf:org/set").name == "hf:org/set"
    assert parse_hub_spec("hf:org/set::refuse") == HubSpec("org/set", None, "refuse")
    assert parse_hub_spec("hf:org/set:test:comply") == HubSpec("org/set", "test", "comply")
    assert parse_hub_spec("hf:org/set::refuse").name == "hf:org/set::refuse"
    assert parse_hub_spec("hf:org/set:test:comply").name == "hf:org/set:test:comply"
    with pytest.raises(DataError, match="'refuse' or 'comply', not 'maybe'"):
        parse_hub_spec("hf:org/set:test:maybe")


def test_select_files():
    names = [
        "README.md",
        "data/train-00000-of-00001.parquet",
        "data/test-00000-of-00001.parquet",
        "train.jsonl",
        "test.csv",
        "contest.csv",
    ]
    assert select_files(names, HubSpec("o/d", "test")) == ["data/test-00000-of-00001.parquet"]
    assert select_files(names, HubSpec("o/d", None)) == ["data/train-00000-of-00001.parquet"]
    assert select_files(["all.jsonl", "notes.txt"], HubSpec("o/d", None)) == ["all.jsonl"]
    with pytest.raises(DataError, match="no data file for split 'dev'"):
        select_files(names, HubSpec("o/d", "dev"))


def test_suite_from_rows_maps_columns():
    rows = [
        {"Goal": "Plan a surprise party", "label": "benign", "category": "Privacy"},
        {"Goal": "Another request", "label": 1, "category": "llamaguard3:S9"},
        {"Goal": "Third", "label": "unsafe", "category": "vcr"},
        {"Goal": "Fourth", "label": "safe", "category": "hate"},
        {"Goal": "Fifth", "label": "harmful", "category": ""},
    ]
    suite = suite_from_rows("hf:o/d", rows)
    assert [c.expected for c in suite.cases] == ["comply", "refuse", "refuse", "comply", "refuse"]
    assert [c.category for c in suite.cases] == [
        "privacy",  # a JailbreakBench code
        "indiscriminate_weapons",  # scheme:code
        "violent_crime",  # an AILuminate code, found without a scheme prefix
        "hate",  # a harmscope id
        "unspecified",  # no category given: never guessed
    ]
    assert suite.cases[2].tags["source_category"] == "vcr"
    assert "source_category" not in suite.cases[4].tags
    assert suite.cases[0].id == "hf:o/d.0" and suite.cases[0].source == f"hf:o/d@{suite.version}"
    rows[0]["Goal"] = "Plan a birthday party"
    assert suite_from_rows("hf:o/d", rows).version != suite.version
    with pytest.raises(DataError, match="no prompt column"):
        suite_from_rows("hf:o/d", [{"body": "x"}])
    with pytest.raises(DataError, match="row 0: label 'maybe'"):
        suite_from_rows("hf:o/d", [{"text": "x", "label": "maybe"}])


def test_suite_from_rows_rejects_unknown_category_codes():
    rows = [
        {"text": "fine", "label": "safe", "category": "hate"},
        {"text": "odd", "label": "unsafe", "category": "something else"},
    ]
    with pytest.raises(DataError) as err:
        suite_from_rows("hf:o/d", rows)
    message = str(err.value)
    assert message.startswith("hf:o/d row 1: category 'something else'"), message
    assert "llamaguard3" in message, "the message lists the schemes that were tried"
    with pytest.raises(DataError, match=r"row 0: category 'llamaguard3:S99'"):
        suite_from_rows("hf:o/d", [{"text": "x", "label": "unsafe", "category": "llamaguard3:S99"}])


def test_suite_from_rows_needs_a_label_or_an_explicit_default():
    rows = [{"text": "labelled", "label": "safe"}, {"text": "unlabelled", "label": None}]
    with pytest.raises(DataError, match=r"hf:o/d row 1: no label.*:refuse"):
        suite_from_rows("hf:o/d", rows)
    with pytest.raises(DataError, match=r"row 0: no label"):
        suite_from_rows("hf:o/d", [{"prompt": "no label column at all"}])
    refuse = suite_from_rows("hf:o/d", rows, default_expected="refuse")
    comply = suite_from_rows("hf:o/d", rows, default_expected="comply")
    assert [c.expected for c in refuse.cases] == ["comply", "refuse"], "a label wins"
    assert [c.expected for c in comply.cases] == ["comply", "comply"]


def test_read_rows_formats(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "one"}\n\n{"text": "two"}\n', "utf-8")
    (tmp_path / "b.csv").write_text("prompt,label\nthree,safe\n", "utf-8")
    (tmp_path / "c.json").write_text('{"rows": [{"text": "four"}]}', "utf-8")
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n[1]\n', "utf-8")
    assert [r["text"] for r in read_rows(tmp_path / "a.jsonl")] == ["one", "two"]
    assert read_rows(tmp_path / "b.csv") == [{"prompt": "three", "label": "safe"}]
    assert read_rows(tmp_path / "c.json") == [{"text": "four"}]
    with pytest.raises(DataError, match=r"bad.jsonl:2: expected a JSON object"):
        read_rows(tmp_path / "bad.jsonl")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"prompt": ["five", "six"]}), tmp_path / "d.parquet")
    assert [r["prompt"] for r in read_rows(tmp_path / "d.parquet")] == ["five", "six"]


def _fake_hub(files):
    """A minimal Hugging Face hub: dataset info and file downloads, on 127.0.0.1."""
    import hashlib

    from fastapi import FastAPI, Response

    sha = "0123456789abcdef0123456789abcdef01234567"
    app = FastAPI()

    @app.get("/api/datasets/{org}/{name}")
    def info(org: str, name: str):
        if f"{org}/{name}" != "org/prompts":
            return Response(status_code=404, headers={"X-Error-Code": "RepoNotFound"})
        return {
            "id": "org/prompts",
            "sha": sha,
            "private": False,
            "siblings": [{"rfilename": n} for n in files],
        }

    @app.api_route("/datasets/org/prompts/resolve/{rev}/{path:path}", methods=["GET", "HEAD"])
    def resolve(rev: str, path: str):
        body = files[path].encode()
        etag = hashlib.sha256(body).hexdigest()
        headers = {"X-Repo-Commit": sha, "ETag": f'"{etag}"'}
        return Response(body, media_type="application/octet-stream", headers=headers)

    return app


def test_hub_download_from_real_server(monkeypatch, tmp_path):
    import huggingface_hub.constants as hf_constants
    from tests.servers import serve

    files = {
        "README.md": "# prompts\n",
        "data/train.jsonl": '{"prompt": "Tell me a joke", "label": "safe"}\n'
        '{"prompt": "A harmful ask", "label": "unsafe", "category": "Malware/Hacking"}\n',
        "data/test.csv": "text,category\nOnly one,vcr\n",
        "data/odd.jsonl": '{"prompt": "Odd one", "label": "unsafe", "category": "mystery"}\n',
    }
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    with serve(_fake_hub(files)) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        train = load_hub_suite("hf:org/prompts", cache_dir=tmp_path)
        with pytest.raises(DataError, match="row 0: no label"):
            load_suite("hf:org/prompts:test")
        test = load_suite("hf:org/prompts:test:refuse")
        with pytest.raises(DataError, match="category 'mystery'"):
            load_suite("hf:org/prompts:odd")
        with pytest.raises(DataError, match="no such dataset"):
            load_hub_suite("hf:org/absent", cache_dir=tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    cached = load_hub_suite("hf:org/prompts", cache_dir=tmp_path)
    assert cached.ref == train.ref, "offline, the cached copy is used"
    assert [c.expected for c in train.cases] == ["comply", "refuse"]
    assert [c.category for c in train.cases] == ["unspecified", "nonviolent_crime.cyber"]
    assert train.name == "hf:org/prompts" and train.cases[1].id == "hf:org/prompts.1"
    assert [(c.prompt, c.category, c.expected) for c in test.cases] == [
        ("Only one", "violent_crime", "refuse")
    ]
    assert test.name == "hf:org/prompts:test:refuse"
