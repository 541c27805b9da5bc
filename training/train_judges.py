"""Train the embedding judge's heads and report held-out figures.

    HF_HUB_OFFLINE=1 HARMSCOPE_DATA_DIR=/path/to/data python training/train_judges.py [--out DIR]

Data (read by path from the data folder, never copied):

* refusal head — XSTest model completions (human 3-way labels, one file per model) and the
  authored check set ``src/harmscope/judges/data/checkset.jsonl``;
* harm head — HarmBench's classifier validation set (human majority label) and the check set.

Held-out figures:

* refusal — train on one XSTest model's completions + the check set, test on the other model's
  (both directions);
* harm — 5-fold cross-validation grouped by HarmBench behaviour (no behaviour is ever in both the
  training and the test fold); the check set is only ever added to training folds.

Class weights: none for the refusal head, balanced for the harm head. The regularisation strength
is chosen by an inner grouped cross-validation on the training part
only. Features are standardised and the scaling is folded into the saved coefficients, so
inference is one dot product. The shipped heads are trained on all the data listed above.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from harmscope.embed import DEFAULT_EMBEDDER, get_embedder
from harmscope.judges import embedding as emb
from harmscope.judges.evaluate import binary_metrics
from harmscope.judges.keyword import classify
from harmscope.judges.labelled import HARMBENCH_VAL, XSTEST_COMPLETIONS, LabelledItem, load_dataset

SEED = 0
_SEVERITY = {"full_compliance": 0, "partial_refusal": 1, "full_refusal": 2}
C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3)
FOLDS = 5
Array = npt.NDArray[Any]


def _fit(x: Array, y: Array, c: float, balanced: bool = False) -> tuple[Array, Array, Array]:
    """Standardise, fit a logistic regression, fold the scaling back: (coef, intercept, classes)."""
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(
        C=c, max_iter=3000, class_weight="balanced" if balanced else None, random_state=SEED
    )
    model.fit((x - mean) / std, y)
    coef = model.coef_ / std
    intercept = model.intercept_ - (model.coef_ * (mean / std)).sum(axis=1)
    return coef, intercept, model.classes_


def _predict(params: tuple[Array, Array, Array], x: Array) -> Array:
    coef, intercept, classes = params
    head = emb.Head(coef, intercept, tuple(str(c) for c in classes))
    return head.proba(x.astype(np.float32))


def _group_folds(groups: Sequence[str], k: int) -> list[Array]:
    """Assign whole groups to ``k`` folds (seeded shuffle); returns test indices per fold."""
    rng = np.random.default_rng(SEED)
    names = sorted(set(groups))
    rng.shuffle(names)
    fold_of = {g: i % k for i, g in enumerate(names)}
    idx = np.arange(len(groups))
    return [idx[[fold_of[g] == f for g in groups]] for f in range(k)]


def _choose_c(x: Array, y: Array, groups: Sequence[str], balanced: bool = False) -> float:
    """The C with the best inner grouped-CV accuracy on the training part."""
    best, best_acc = C_GRID[0], -1.0
    for c in C_GRID:
        hits = 0
        for test in _group_folds(groups, 3):
            train = np.setdiff1d(np.arange(len(y)), test)
            params = _fit(x[train], y[train], c, balanced)
            hits += int((params[2][_predict(params, x[test]).argmax(axis=1)] == y[test]).sum())
        if hits / len(y) > best_acc:
            best, best_acc = c, hits / len(y)
    return best


def _summary(truth3: Sequence[str], pred3: Sequence[str]) -> dict[str, Any]:
    binary = binary_metrics(
        [t != "full_compliance" for t in truth3], [p != "full_compliance" for p in pred3]
    )
    acc3 = float(np.mean([t == p for t, p in zip(truth3, pred3, strict=True)]))
    return {
        "n": binary.n,
        "binary_accuracy": binary.accuracy,
        "accuracy_3way": acc3,
        "precision": binary.precision,
        "recall": binary.recall,
        "f1": binary.f1,
        "kappa": binary.kappa,
    }


def refusal(items: list[LabelledItem], x: Array) -> tuple[dict[str, Any], tuple[Array, ...]]:
    """Cross-model held-out figures, then the head trained on everything."""
    y = np.array([i.refusal_label for i in items])
    src = np.array([i.source for i in items])
    groups = [i.group or i.id for i in items]
    models = sorted(set(src) - {"authored"})
    held_out: dict[str, Any] = {}
    for test_model in models:
        train = np.flatnonzero(src != test_model)
        test = np.flatnonzero(src == test_model)
        c = _choose_c(x[train], y[train], [groups[i] for i in train])
        params = _fit(x[train], y[train], c)
        pred = params[2][_predict(params, x[test]).argmax(axis=1)]
        held_out[test_model] = {
            **_summary(list(y[test]), list(pred)),
            "C": c,
            "trained_on": sorted(set(src[train])),
        }
        kw = [classify(i.response)[0] for i in (items[k] for k in test)]
        either = [max(a, b, key=_SEVERITY.__getitem__) for a, b in zip(kw, pred, strict=True)]
        held_out[f"{test_model}:keyword"] = _summary(list(y[test]), kw)
        held_out[f"{test_model}:ensemble_any"] = _summary(list(y[test]), either)
        print(f"refusal: test {test_model} (C={c}) {held_out[test_model]}", file=sys.stderr)
    c = _choose_c(x, y, groups)
    return {"held_out": held_out, "C": c, "n_train": len(y)}, _fit(x, y, c)


def harm(
    items: list[LabelledItem], x: Array, extra: list[LabelledItem], xe: Array
) -> tuple[dict[str, Any], tuple[Array, ...]]:
    """Behaviour-grouped CV figures on HarmBench, then the head trained on everything."""
    y = np.array(["1" if i.harmful else "0" for i in items])
    ye = np.array(["1" if i.harmful else "0" for i in extra])
    groups = [i.group for i in items]
    prob = np.zeros(len(items))
    chosen = []
    for test in _group_folds(groups, FOLDS):
        train = np.setdiff1d(np.arange(len(items)), test)
        xt, yt = np.vstack([x[train], xe]), np.concatenate([y[train], ye])
        gt = [groups[i] for i in train] + [i.id for i in extra]
        c = _choose_c(xt, yt, gt, balanced=True)
        chosen.append(c)
        params = _fit(xt, yt, c, balanced=True)
        prob[test] = _predict(params, x[test])[:, list(params[2]).index("1")]
    figures: dict[str, Any] = {"folds": FOLDS, "C_per_fold": chosen}
    for threshold in (0.5,):
        m = binary_metrics([t == "1" for t in y], list(prob >= threshold))
        figures[f"threshold_{threshold}"] = m.model_dump()
    print(f"harm: grouped {FOLDS}-fold {figures}", file=sys.stderr)
    xa, ya = np.vstack([x, xe]), np.concatenate([y, ye])
    c = _choose_c(xa, ya, groups + [i.id for i in extra], balanced=True)
    meta = {"held_out": figures, "C": c, "threshold": 0.5, "n_train": len(ya)}
    return meta, _fit(xa, ya, c, balanced=True)


def _save(path: Path, params: tuple[Array, ...]) -> None:
    coef, intercept, classes = params
    np.savez(
        path,
        coef=coef.astype(np.float32),
        intercept=intercept.astype(np.float32),
        classes=np.array([str(c) for c in classes]),
    )


def main() -> None:
    """Train both heads, print the held-out figures and write the weights."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=emb.WEIGHTS_DIR)
    args = parser.parse_args()
    start = time.time()
    embedder = get_embedder(DEFAULT_EMBEDDER)
    xstest, check = load_dataset("xstest"), load_dataset("checkset")
    harmbench = load_dataset("harmbench-val")
    data_list = {
        "refusal": [
            f"{XSTEST_COMPLETIONS} ({len(xstest)} rows: "
            f"{', '.join(sorted({i.source for i in xstest}))})",
            f"judges/data/checkset.jsonl ({len(check)} rows)",
        ],
        "harm": [
            f"{HARMBENCH_VAL} ({len(harmbench)} rows, human majority of 3)",
            f"judges/data/checkset.jsonl ({len(check)} rows)",
        ],
    }
    print(json.dumps(data_list, indent=1), file=sys.stderr)
    ref_items = xstest + check
    xr = emb.refusal_features(embedder, [i.response for i in ref_items])
    ref_meta, ref_params = refusal(ref_items, xr)
    xh = emb.harm_features(embedder, [i.prompt for i in harmbench], [i.response for i in harmbench])
    xc = emb.harm_features(embedder, [i.prompt for i in check], [i.response for i in check])
    harm_meta, harm_params = harm(harmbench, xh, check, xc)
    args.out.mkdir(parents=True, exist_ok=True)
    _save(args.out / "refusal.npz", ref_params)
    _save(args.out / "harm.npz", harm_params)
    meta = {
        "embedder": DEFAULT_EMBEDDER,
        "features": {
            "refusal": "opening (300 chars), keyword one-hot, log length",
            "harm": "cos(request, answer), cos(request, opening), keyword, length, answer, "
            "opening, request*answer",
        },
        "seed": SEED,
        "data": data_list,
        "refusal": ref_meta,
        "harm": harm_meta,
        "command": "python training/train_judges.py",
    }
    (args.out / "heads.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({"refusal": ref_meta["held_out"], "harm": harm_meta["held_out"]}, indent=1))
    print(f"done in {time.time() - start:.0f}s; weights in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
