"""training/train_judges.py: its held-out splits never leak, and a fixed seed reproduces it.

The features here are small synthetic arrays (numbers, not text), so no embedding model is
loaded; the script's own split, selection and fitting functions are what is tested.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "training" / "train_judges.py"


@pytest.fixture(scope="module")
def tj() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_judges", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_judges"] = module
    spec.loader.exec_module(module)
    return module


def _refusal_data(seed: int = 1) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """Two source models answering the same 30 prompts; labels follow the first two features."""
    rng = np.random.default_rng(seed)
    classes = ["full_compliance", "full_refusal", "partial_refusal"]
    labels = [classes[i % 3] for i in range(60)]
    x = rng.normal(size=(60, 6))
    for i, label in enumerate(labels):
        x[i, classes.index(label)] += 3.0
    sources = ["model_a"] * 30 + ["model_b"] * 30
    groups = [f"prompt{i % 30}" for i in range(60)]
    return x, labels, sources, groups


def test_cross_model_splits_never_train_on_the_test_model(tj: ModuleType) -> None:
    sources = ["a", "b", "a", "c", "b", "a"]
    splits = tj.cross_model_splits(sources)
    assert [s.name for s in splits] == ["a", "b", "c"]
    for split in splits:
        assert {sources[i] for i in split.test} == {split.name}
        assert split.name not in {sources[i] for i in split.train}
        assert sorted([*split.train, *split.test]) == list(range(len(sources)))


def test_grouped_folds_keep_each_behaviour_in_one_fold(tj: ModuleType) -> None:
    groups = [f"b{i % 7}" for i in range(40)]
    folds = tj.group_folds(groups, 5, seed=3)
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested) == list(range(40))  # every row is tested exactly once
    for fold in folds:
        test_groups = {groups[i] for i in fold.test}
        train_groups = {groups[i] for i in fold.train}
        assert test_groups and not test_groups & train_groups, fold.name
        assert len(fold.train) + len(fold.test) == 40
    same = tj.group_folds(groups, 5, seed=3)
    assert all((a.test == b.test).all() for a, b in zip(folds, same, strict=True))


def test_train_refusal_reports_cross_model_figures_from_held_out_rows(tj: ModuleType) -> None:
    x, labels, sources, groups = _refusal_data()
    meta, params = tj.train_refusal(x, labels, sources, groups, seed=0)
    assert set(meta["held_out"]) == {"model_a", "model_b"}
    assert meta["held_out"]["model_a"]["trained_on"] == ["model_b"]
    assert meta["held_out"]["model_b"]["n"] == 30
    # the figures are those of a head refitted without the test model, by hand:
    split = tj.cross_model_splits(sources)[0]
    c = meta["held_out"]["model_a"]["C"]
    y = np.asarray(labels)
    pred = tj.fit(x[split.train], y[split.train], c).predict(x[split.test])
    acc3 = float(np.mean(pred == y[split.test]))
    assert meta["held_out"]["model_a"]["accuracy_3way"] == pytest.approx(acc3)
    assert meta["n_train"] == 60 and tuple(params.classes) == tuple(sorted(set(labels)))


def test_same_seed_same_weights(tj: ModuleType) -> None:
    x, labels, sources, groups = _refusal_data()
    _, first = tj.train_refusal(x, labels, sources, groups, seed=0)
    _, again = tj.train_refusal(x, labels, sources, groups, seed=0)
    assert np.array_equal(first.coef, again.coef) and np.array_equal(first.intercept,
                                                                      again.intercept)  # fmt: skip
    harmful = [bool(v) for v in (x[:, 0] > 0.5)]
    behaviours = [f"b{i % 12}" for i in range(60)]
    meta1, h1 = tj.train_harm(x, harmful, behaviours, sources, seed=4)
    meta2, h2 = tj.train_harm(x, harmful, behaviours, sources, seed=4)
    assert np.array_equal(h1.coef, h2.coef) and meta1 == meta2
    assert sum(v["n"] for v in meta1["held_out"]["per_source"].values()) == 60


def test_saved_head_loads_in_the_judge(tj: ModuleType, tmp_path: Path) -> None:
    from harmscope.judges.embedding import load_head

    x, labels, sources, groups = _refusal_data()
    params = tj.fit(x, np.asarray(labels), 0.1)
    tj.save(tmp_path / "h.npz", params)
    head = load_head(tmp_path / "h.npz")
    assert head.classes == tuple(params.classes)
    assert np.allclose(head.proba(x.astype(np.float32)), params.proba(x), atol=1e-5)


def test_default_output_is_not_the_shipped_weights(tj: ModuleType) -> None:
    from harmscope.judges.embedding import WEIGHTS_DIR

    assert tj.SCRATCH.resolve() != WEIGHTS_DIR.resolve()
    assert "checkset" not in {s for names in tj.SOURCES.values() for s in names}


def test_harmless_xstest_rows_are_only_those_the_labels_settle(tj: ModuleType) -> None:
    from harmscope.judges.labelled import LabelledItem

    def item(i: int, expected: str, label: str) -> LabelledItem:
        return LabelledItem(id=f"m.{i}", prompt="p", response="r", refusal_label=label,  # type: ignore[arg-type]
                            refusal=label != "full_compliance", expected=expected, source="m",
                            group=str(i))  # fmt: skip

    items = [
        item(1, "comply", "full_compliance"),  # safe prompt answered: harmless
        item(2, "comply", "partial_refusal"),  # safe prompt: harmless whatever the answer
        item(3, "refuse", "full_refusal"),  # unsafe prompt refused: harmless
        item(4, "refuse", "full_compliance"),  # unsafe prompt answered: unknown, left out
        item(5, "refuse", "partial_refusal"),  # unknown, left out
    ]
    kept = tj.harmless_xstest(items)
    assert [i.id for i in kept] == ["m.1", "m.2", "m.3"]
    assert all(i.harmful is False and i.group == f"xstest:{i.id[2:]}" for i in kept)
