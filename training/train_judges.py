r"""Train the embedding judge's heads and report held-out figures.

    HF_HUB_OFFLINE=1 HARMSCOPE_DATA_DIR=/path/to/data \
        python training/train_judges.py [--out DIR | --write-weights] [--seed 0]

Without ``--write-weights`` the heads and ``heads.json`` go to ``--out`` (default: a scratch
folder under the system's temporary directory), so reproducing the figures never overwrites the
shipped weights; ``--write-weights`` writes them into ``src/harmscope/judges/weights/``.

Data (read by path from the data folder, never copied):

* refusal head — XSTest model completions (human 3-way labels, one file per model);
* harm head — HarmBench's classifier validation set (human majority label), plus the XSTest
  completions whose harm is known from their human label: every answer to a safe prompt and
  every full refusal is harmless. (HarmBench's requests are all harmful: without these the head
  would learn that any compliance is harmful, however benign the request.)

harmscope's authored check set (``judges/data/checkset.jsonl``) is never trained on: a scan
measures the judge's error there by default, so it must stay unseen. It is scored last, as one
more held-out set.

Held-out figures:

* refusal — train on one XSTest model's completions, test on the other model's (both
  directions); no row of the test model is ever in training;
* harm — 5-fold cross-validation grouped by HarmBench behaviour / XSTest prompt (no behaviour
  or prompt is ever in both the training and the test fold), with a per-source-model breakdown
  of the out-of-fold predictions and the figures on the HarmBench rows alone;
* both — the shipped heads (trained on all of their data) on the check set.

Class weights: none for the refusal head, balanced for the harm head. The regularisation strength
is chosen by an inner grouped cross-validation on the training part only. Features are
standardised and the scaling is folded into the saved coefficients, so inference is one dot
product. Every random choice is seeded (``--seed``); the same seed gives the same weights.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from harmscope.judges import embedding as emb
from harmscope.judges.evaluate import binary_metrics
from harmscope.judges.keyword import classify
from harmscope.judges.labelled import HARMBENCH_VAL, XSTEST_COMPLETIONS, LabelledItem, load_dataset

SEED = 0
_SEVERITY = {"full_compliance": 0, "partial_refusal": 1, "full_refusal": 2}
C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3)
FOLDS = 5
SOURCES = {"refusal": ["xstest"], "harm": ["harmbench-val", "xstest"]}
"""Dataset ids (as ``load_dataset`` names them) each head is trained on."""
SCRATCH = Path(tempfile.gettempdir()) / "harmscope-judges"
Array = npt.NDArray[Any]


@dataclass(frozen=True)
class Params:
    """A fitted linear head: coefficients on raw features, intercepts, class names."""

    coef: Array
    intercept: Array
    classes: Array

    def proba(self, x: Array) -> Array:
        """Class probabilities (the judge's own inference code)."""
        head = emb.Head(self.coef, self.intercept, tuple(str(c) for c in self.classes))
        return head.proba(x.astype(np.float32))

    def predict(self, x: Array) -> Array:
        """The most probable class of each row."""
        return self.classes[self.proba(x).argmax(axis=1)]


@dataclass(frozen=True)
class Split:
    """Row indices of one held-out split."""

    name: str
    train: Array
    test: Array


def fit(x: Array, y: Array, c: float, *, balanced: bool = False, seed: int = SEED) -> Params:
    """Standardise, fit a logistic regression, fold the scaling back into the coefficients."""
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(
        C=c, max_iter=3000, class_weight="balanced" if balanced else None, random_state=seed
    )
    model.fit((x - mean) / std, y)
    coef = model.coef_ / std
    intercept = model.intercept_ - (model.coef_ * (mean / std)).sum(axis=1)
    return Params(coef, intercept, model.classes_)


def group_folds(groups: Sequence[str], k: int, *, seed: int = SEED) -> list[Split]:
    """``k`` folds with whole groups assigned to one fold each (seeded shuffle of the groups)."""
    rng = np.random.default_rng(seed)
    names = sorted(set(groups))
    rng.shuffle(names)
    fold_of = {g: i % k for i, g in enumerate(names)}
    folds = np.array([fold_of[g] for g in groups])
    idx = np.arange(len(groups))
    return [Split(f"fold{f}", idx[folds != f], idx[folds == f]) for f in range(k)]


def cross_model_splits(sources: Sequence[str]) -> list[Split]:
    """One split per source model: test on its rows, train on every other model's."""
    src = np.asarray(sources)
    return [
        Split(model, np.flatnonzero(src != model), np.flatnonzero(src == model))
        for model in sorted(set(sources))
    ]


def choose_c(
    x: Array, y: Array, groups: Sequence[str], *, balanced: bool = False, seed: int = SEED
) -> float:
    """The C with the best inner grouped-CV accuracy (on the rows given: a training part)."""
    best, best_acc = C_GRID[0], -1.0
    for c in C_GRID:
        hits = 0
        for split in group_folds(groups, 3, seed=seed):
            params = fit(x[split.train], y[split.train], c, balanced=balanced, seed=seed)
            hits += int((params.predict(x[split.test]) == y[split.test]).sum())
        if hits / len(y) > best_acc:
            best, best_acc = c, hits / len(y)
    return best


def refusal_summary(truth3: Sequence[str], pred3: Sequence[str]) -> dict[str, Any]:
    """Binary (partial counts as refusal) and 3-way agreement."""
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


def train_refusal(
    x: Array,
    labels: Sequence[str],
    sources: Sequence[str],
    groups: Sequence[str],
    responses: Sequence[str] | None = None,
    *,
    seed: int = SEED,
) -> tuple[dict[str, Any], Params]:
    """Cross-model held-out figures, then the head trained on every row."""
    y, held_out = np.asarray(labels), {}
    for split in cross_model_splits(sources):
        c = choose_c(x[split.train], y[split.train], [groups[i] for i in split.train], seed=seed)
        pred = fit(x[split.train], y[split.train], c, seed=seed).predict(x[split.test])
        truth = list(y[split.test])
        held_out[split.name] = {
            **refusal_summary(truth, list(pred)),
            "C": c,
            "trained_on": sorted({sources[i] for i in split.train}),
        }
        if responses is not None:
            kw = [classify(responses[i])[0] for i in split.test]
            either = [max(a, b, key=_SEVERITY.__getitem__) for a, b in zip(kw, pred, strict=True)]
            held_out[f"{split.name}:keyword"] = refusal_summary(truth, kw)
            held_out[f"{split.name}:ensemble_any"] = refusal_summary(truth, either)
        print(f"refusal: test {split.name} (C={c}) {held_out[split.name]}", file=sys.stderr)
    c = choose_c(x, y, groups, seed=seed)
    return {"held_out": held_out, "C": c, "n_train": len(y)}, fit(x, y, c, seed=seed)


def train_harm(
    x: Array,
    harmful: Sequence[bool],
    groups: Sequence[str],
    sources: Sequence[str],
    *,
    threshold: float = 0.5,
    seed: int = SEED,
    subset: dict[str, list[int]] | None = None,
) -> tuple[dict[str, Any], Params]:
    """Behaviour-grouped CV figures, then the head trained on every row.

    The figures are overall, per source model, and per named ``subset`` of rows.
    """
    y = np.array(["1" if h else "0" for h in harmful])
    prob, chosen = np.zeros(len(y)), []
    for split in group_folds(groups, FOLDS, seed=seed):
        gt = [groups[i] for i in split.train]
        c = choose_c(x[split.train], y[split.train], gt, balanced=True, seed=seed)
        chosen.append(c)
        params = fit(x[split.train], y[split.train], c, balanced=True, seed=seed)
        prob[split.test] = params.proba(x[split.test])[:, list(params.classes).index("1")]
    truth, pred = [t == "1" for t in y], list(prob >= threshold)
    per_source = {}
    for name in sorted(set(sources)):
        rows = [i for i, s in enumerate(sources) if s == name]
        m = binary_metrics([truth[i] for i in rows], [pred[i] for i in rows])
        per_source[name] = {"n": m.n, "accuracy": m.accuracy}
    figures: dict[str, Any] = {
        "folds": FOLDS,
        "grouped_by": "behaviour",
        "C_per_fold": chosen,
        f"threshold_{threshold}": binary_metrics(truth, pred).model_dump(),
        "per_source": per_source,
    }
    for name, rows in (subset or {}).items():
        m = binary_metrics([truth[i] for i in rows], [pred[i] for i in rows])
        figures[f"{name}_only"] = m.model_dump()
    print(f"harm: grouped {FOLDS}-fold {figures[f'threshold_{threshold}']}", file=sys.stderr)
    c = choose_c(x, y, groups, balanced=True, seed=seed)
    meta = {"held_out": figures, "C": c, "threshold": threshold, "n_train": len(y)}
    return meta, fit(x, y, c, balanced=True, seed=seed)


def harmless_xstest(items: Sequence[LabelledItem]) -> list[LabelledItem]:
    """XSTest answers whose harm the human label settles: to a safe prompt, or a full refusal.

    They are labelled harmless; their group is the prompt, so both models' answers to one
    prompt share a fold. Compliance with an unsafe (contrast) prompt is left out: XSTest does
    not say whether it helped.
    """
    return [
        replace(i, harmful=False, group=f"xstest:{i.group or i.id}")
        for i in items
        if i.expected == "comply" or i.refusal_label == "full_refusal"
    ]


def save(path: Path, params: Params) -> None:
    """Write a head as plain arrays (``coef``, ``intercept``, ``classes``)."""
    np.savez(
        path,
        coef=params.coef.astype(np.float32),
        intercept=params.intercept.astype(np.float32),
        classes=np.array([str(c) for c in params.classes]),
    )


def _checkset_figures(
    check: list[LabelledItem], xr: Array, xh: Array, ref: Params, harm: Params, threshold: float
) -> dict[str, Any]:
    """The shipped heads on the authored check set, which neither head was trained on."""
    refusal = [(k, i) for k, i in enumerate(check) if i.refusal_label is not None]
    pred = ref.predict(xr[[k for k, _ in refusal]])
    out: dict[str, Any] = {"refusal": refusal_summary([str(i.refusal_label) for _, i in refusal],
                                                      [str(p) for p in pred])}  # fmt: skip
    labelled = [(k, i) for k, i in enumerate(check) if i.harmful is not None]
    p = harm.proba(xh[[k for k, _ in labelled]])[:, list(harm.classes).index("1")]
    m = binary_metrics([bool(i.harmful) for _, i in labelled], list(p >= threshold))
    out["harm"] = m.model_dump()
    return out


def main() -> None:
    """Train both heads, print the held-out figures and write the weights."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None, help=f"default: {SCRATCH}")
    parser.add_argument(
        "--write-weights", action="store_true", help="write into the package's weights folder"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    if args.write_weights and args.out is not None:
        parser.error("--out and --write-weights are exclusive")
    out: Path = emb.WEIGHTS_DIR if args.write_weights else (args.out or SCRATCH)
    start = time.time()
    from harmscope.embed import DEFAULT_EMBEDDER, get_embedder

    embedder = get_embedder(DEFAULT_EMBEDDER)
    xstest, harmbench = load_dataset("xstest"), load_dataset("harmbench-val")
    check = load_dataset("checkset")
    data_list = {
        "refusal": [
            f"{XSTEST_COMPLETIONS} ({len(xstest)} rows: "
            f"{', '.join(sorted({i.source for i in xstest}))})"
        ],
        "harm": [
            f"{HARMBENCH_VAL} ({len(harmbench)} rows, human majority of 3)",
            f"{XSTEST_COMPLETIONS} ({len(harmless_xstest(xstest))} rows labelled harmless: "
            "answers to safe prompts and full refusals)",
        ],
    }
    print(json.dumps(data_list, indent=1), file=sys.stderr)
    xr, xh_xstest = emb.features(embedder, [i.prompt for i in xstest], [i.response for i in xstest])
    ref_meta, ref_params = train_refusal(
        xr,
        [str(i.refusal_label) for i in xstest],
        [i.source for i in xstest],
        [i.group or i.id for i in xstest],
        [i.response for i in xstest],
        seed=args.seed,
    )
    harmless = harmless_xstest(xstest)
    keep = {i.id for i in harmless}
    harm_items = harmbench + harmless
    _, xh = emb.features(embedder, [i.prompt for i in harmbench], [i.response for i in harmbench])
    xh = np.vstack([xh, xh_xstest[[k for k, i in enumerate(xstest) if i.id in keep]]])
    harm_meta, harm_params = train_harm(
        xh,
        [bool(i.harmful) for i in harm_items],
        [i.group for i in harm_items],
        [i.source for i in harm_items],
        seed=args.seed,
        subset={"harmbench-val": list(range(len(harmbench)))},
    )
    xcr, xch = emb.features(embedder, [i.prompt for i in check], [i.response for i in check])
    unseen = _checkset_figures(check, xcr, xch, ref_params, harm_params, harm_meta["threshold"])
    out.mkdir(parents=True, exist_ok=True)
    save(out / "refusal.npz", ref_params)
    save(out / "harm.npz", harm_params)
    meta = {
        "embedder": DEFAULT_EMBEDDER,
        "features": {
            "refusal": "opening (300 chars), keyword one-hot, log length",
            "harm": "cos(request, answer), cos(request, opening), keyword, length, answer, "
            "opening, request*answer",
        },
        "seed": args.seed,
        "sources": SOURCES,
        "data": data_list,
        "refusal": ref_meta,
        "harm": harm_meta,
        "checkset_unseen": unseen,
        "command": "python training/train_judges.py --write-weights",
    }
    (out / "heads.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    summary = {"refusal": ref_meta["held_out"], "harm": harm_meta["held_out"], "checkset": unseen}
    print(json.dumps(summary, indent=1))
    print(f"done in {time.time() - start:.0f}s; weights in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
