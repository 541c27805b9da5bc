"""Train the guard's embedding heads and write them to src/harmscope/guard/weights/.

    HF_HUB_OFFLINE=1 HARMSCOPE_DATA_DIR=/work/shared/data \
        .venv/bin/python training/train_guard.py [--out DIR] [--seed 0]

Data (splits fixed by a stable hash of the text, see ``harmscope.guard.data``):
  unsafe, with categories: AILuminate demo (en_US), HarmBench behaviours, JBB harmful,
    SimpleSafetyTests, StrongREJECT, ToxiGen hate sentences; without category: AdvBench;
  safe: JBB benign, ToxiGen neutral sentences, DailyDilemmas situations, harmscope's authored
    ordinary requests.
  Training uses only the ``train`` split of those sets. Thresholds are chosen on their ``val``
  split plus the ``val`` half of openai-moderation-dev. XSTest and the ``test`` splits are
  never seen here except for the final report.

Heads: one-vs-rest logistic regression (scikit-learn) per category with at least
``--min-positives`` training positives (a sub-category's positives count for its parent), and
an ``any`` head (all unsafe vs all safe): logistic by default, or with ``--any-head mlp`` a
one-hidden-layer MLP (``--hidden``, ``--alpha``; early stopping on a slice of the training
rows). Inference needs numpy only.

Other training mixes: ``--sets`` replaces the list of training sets (for example adding
``authored-lookalike``, ``rtp`` and ``bbq``), ``--cap bbq=600`` keeps at most 600 training rows
of a set (seeded draw). The shipped weights come from the defaults (``--seed 0``); see
``src/harmscope/guard/weights/README.md`` for mixes tried and why they were not shipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score
from sklearn.neural_network import MLPClassifier

from harmscope.embed import get_embedder
from harmscope.guard.data import LabelledText, load_public_set
from harmscope.taxonomy import load_taxonomy

TRAIN_SETS = [
    "ailuminate",
    "harmbench",
    "jailbreakbench",
    "advbench",
    "simplesafetytests",
    "strongreject",
    "toxigen",
    "dailydilemmas",
    "authored-benign",
]
VAL_ONLY = ["openai-moderation-dev"]
ROOT = Path(__file__).resolve().parents[1]


def log(*parts: object) -> None:
    """Print to stderr."""
    print(*parts, file=sys.stderr, flush=True)


def load(split: str, names: list[str]) -> list[LabelledText]:
    """Rows of one split of several sets."""
    rows: list[LabelledText] = []
    for name in names:
        rows.extend(load_public_set(name, split=split))  # type: ignore[arg-type]
    return rows


def head_labels(rows: list[LabelledText], min_positives: int, min_sub: int) -> list[str]:
    """Categories with enough training positives for a head."""
    tax = load_taxonomy()
    counts: Counter[str] = Counter()
    for r in rows:
        if r.unsafe and r.category and r.category in tax:
            counts[r.category] += 1
            parent = tax.get(r.category).parent
            while parent:
                counts[parent] += 1
                parent = tax.get(parent).parent
    labels = []
    for cat in tax.ids:
        need = min_positives if tax.get(cat).parent is None else min_sub
        if cat not in {"unspecified", "harmful_other"} and counts[cat] >= need:
            labels.append(cat)
    return labels


def targets(rows: list[LabelledText], label: str) -> np.ndarray:
    """1/0 per row for a head, -1 where the row does not take part (unknown category)."""
    if label == "any":
        return np.array([int(r.unsafe) for r in rows])
    tax = load_taxonomy()
    out = []
    for r in rows:
        if not r.unsafe:
            out.append(0)
        elif not r.category or r.category not in tax:
            out.append(-1)
        else:
            cat = r.category
            ancestors = {cat}
            while tax.get(cat).parent:
                cat = tax.get(cat).parent or ""
                ancestors.add(cat)
            out.append(int(label in ancestors))
    return np.array(out)


def best_threshold(y: np.ndarray, p: np.ndarray, *, lo: float = 0.2, hi: float = 0.95) -> float:
    """Threshold maximising F1 on a grid."""
    grid = np.round(np.arange(lo, hi + 1e-9, 0.025), 3)
    f1s = [f1_score(y, p >= t, zero_division=0.0) for t in grid]
    return float(grid[int(np.argmax(f1s))])


def report(name: str, rows: list[LabelledText], flagged: np.ndarray, p_any: np.ndarray) -> dict:
    """Print and return test metrics of one set."""
    y = np.array([int(r.unsafe) for r in rows])
    tp = int(((flagged == 1) & (y == 1)).sum())
    fp = int(((flagged == 1) & (y == 0)).sum())
    fn = int(((flagged == 0) & (y == 1)).sum())
    tn = int(((flagged == 0) & (y == 0)).sum())
    out = {
        "n": len(rows),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "fpr": fp / (fp + tn) if fp + tn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
        "auprc": float(average_precision_score(y, p_any)) if 0 < y.sum() < len(y) else None,
    }
    log(
        f"  {name:28s} "
        + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in out.items())
    )
    return out


def make_embed(cache: str | None):  # type: ignore[no-untyped-def]
    """Embedding function, optionally cached on disk by text (speeds up re-training)."""
    embedder = get_embedder("minilm")
    store: dict[str, np.ndarray] = {}
    if cache and Path(cache).is_file():
        with np.load(cache, allow_pickle=False) as z:
            store = dict(zip(z["texts"].tolist(), z["vectors"], strict=True))

    def embed(rows: list[LabelledText]) -> np.ndarray:
        todo = sorted({r.text for r in rows if r.text not in store})
        if todo:
            store.update(zip(todo, embedder.encode(todo), strict=True))
            if cache:
                np.savez(cache, texts=np.array(list(store)), vectors=np.stack(list(store.values())))
        return np.stack([store[r.text] for r in rows])

    return embed


def youden_threshold(y: np.ndarray, p: np.ndarray, *, lo: float = 0.2, hi: float = 0.95) -> float:
    """Threshold maximising TPR - FPR on a grid."""
    grid = np.round(np.arange(lo, hi + 1e-9, 0.025), 3)
    j = [
        ((p >= t) & (y == 1)).sum() / max(1, (y == 1).sum())
        - ((p >= t) & (y == 0)).sum() / max(1, (y == 0).sum())
        for t in grid
    ]
    return float(grid[int(np.argmax(j))])


def cap_rows(rows: list[LabelledText], caps: list[str], *, seed: int) -> list[LabelledText]:
    """Keep at most N training rows of a set (``SET=N``), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    for spec in caps:
        name, _, n = spec.partition("=")
        idx = [i for i, r in enumerate(rows) if r.source == name]
        if len(idx) > int(n):
            keep = set(rng.choice(idx, int(n), replace=False).tolist())
            rows = [r for i, r in enumerate(rows) if r.source != name or i in keep]
    return rows


def fit_mlp(x: np.ndarray, y: np.ndarray, args: argparse.Namespace) -> MLPClassifier:
    """One-hidden-layer MLP for the any head; safe rows repeated ``safe_weight`` times."""
    reps = np.where(y == 0, max(1, round(args.safe_weight)), 1)
    mlp = MLPClassifier(
        hidden_layer_sizes=(args.hidden,),
        alpha=args.alpha,
        early_stopping=True,
        random_state=args.seed,
        max_iter=300,
    )
    return mlp.fit(np.repeat(x, reps, axis=0), np.repeat(y, reps))


def main() -> None:
    """Train, choose thresholds, evaluate, write weights."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "src/harmscope/guard/weights"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-positives", type=int, default=15)
    ap.add_argument("--min-sub", type=int, default=30)
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--safe-weight", type=float, default=2.0, help="extra weight of safe rows")
    ap.add_argument("--cache", default=None, help="npz file caching embeddings by text")
    ap.add_argument(
        "--any-head", choices=["logistic", "mlp"], default="logistic", help="model of the any head"
    )
    ap.add_argument("--hidden", type=int, default=256, help="MLP hidden units")
    ap.add_argument("--alpha", type=float, default=1e-3, help="MLP L2 penalty")
    ap.add_argument(
        "--cap", action="append", default=[], metavar="SET=N", help="most train rows of a set"
    )
    ap.add_argument("--sets", nargs="+", default=TRAIN_SETS, help="training sets")
    args = ap.parse_args()
    np.random.seed(args.seed)
    t0 = time.monotonic()
    train_sets = list(args.sets)

    train = cap_rows(load("train", train_sets), args.cap, seed=args.seed)
    val = load("val", train_sets + VAL_ONLY)
    test_sets = {n: load_public_set(n, split="test") for n in train_sets + VAL_ONLY + ["xstest"]}
    train_keys = {r.text.strip().casefold() for r in train}
    for name, rows in [("val", val), *test_sets.items()]:
        leaked = sum(r.text.strip().casefold() in train_keys for r in rows)
        assert leaked == 0, f"{leaked} {name} rows are in the training split"
    log("data (train / val rows):")
    for name in train_sets + VAL_ONLY:
        n_tr = sum(r.source.startswith(name) for r in train)
        n_va = sum(r.source.startswith(name) for r in val)
        log(f"  {name:24s} train={n_tr:5d} val={n_va:5d} test={len(test_sets[name]):5d}")
    log(f"  xstest (held out entirely) test={len(test_sets['xstest'])}")

    embed = make_embed(args.cache)

    x_tr, x_va = embed(train), embed(val)
    labels = ["any", *head_labels(train, args.min_positives, args.min_sub)]
    log("heads:", ", ".join(labels))
    weights, biases, thresholds, head_stats = [], [], {}, {}
    extra_arrays: dict[str, np.ndarray] = {}

    def any_proba(logistic: LogisticRegression, x: np.ndarray) -> np.ndarray:
        """The any head's probability: the MLP's when trained, else the logistic one."""
        if extra_arrays:
            hidden = np.maximum(x @ extra_arrays["any_W1"] + extra_arrays["any_b1"], 0.0)
            z = (hidden @ extra_arrays["any_W2"] + extra_arrays["any_b2"]).reshape(-1)
            return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))
        return logistic.predict_proba(x)[:, 1]

    for label in labels:
        y_tr, y_va = targets(train, label), targets(val, label)
        m_tr, m_va = y_tr >= 0, y_va >= 0
        clf = LogisticRegression(C=args.C, class_weight="balanced", max_iter=5000)
        clf.fit(
            x_tr[m_tr], y_tr[m_tr], sample_weight=np.where(y_tr[m_tr] == 0, args.safe_weight, 1.0)
        )
        if label == "any" and args.any_head == "mlp":
            mlp = fit_mlp(x_tr, y_tr, args)
            extra_arrays = {
                "any_W1": mlp.coefs_[0].astype(np.float32),
                "any_b1": mlp.intercepts_[0].astype(np.float32),
                "any_W2": mlp.coefs_[1].astype(np.float32),
                "any_b2": mlp.intercepts_[1].astype(np.float32),
            }
        if label == "any":
            p_any_va = any_proba(clf, x_va)
            p_va = p_any_va
            thresholds[label] = youden_threshold(y_va, p_va)
        else:
            # Category scores are gated by the any head: min(p_any, p_category).
            # Never below the any threshold: by default only ``any`` decides what is flagged,
            # category thresholds name the categories (a policy may lower them).
            p_va = np.minimum(clf.predict_proba(x_va[m_va])[:, 1], p_any_va[m_va])
            thresholds[label] = best_threshold(y_va[m_va], p_va, lo=thresholds["any"])
        head_stats[label] = {
            "train_positives": int(y_tr[m_tr].sum()),
            "val_positives": int(y_va[m_va].sum()),
            "val_auprc": float(average_precision_score(y_va[m_va], p_va))
            if 0 < y_va[m_va].sum() < m_va.sum()
            else None,
        }
        if label == "any":
            clf_any = clf
        weights.append(clf.coef_[0].astype(np.float32))
        biases.append(np.float32(clf.intercept_[0]))
        log(
            f"  head {label:30s} pos={head_stats[label]['train_positives']:4d} "
            f"thr={thresholds[label]:.3f} val_auprc={head_stats[label]['val_auprc']}"
        )

    W, b = np.stack(weights), np.array(biases, dtype=np.float32)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "embedding_head.npz", W=W, b=b, **extra_arrays)

    def decide(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-(x @ W.T + b)))
        p[:, 0] = any_proba(clf_any, x)
        p[:, 1:] = np.minimum(p[:, 1:], p[:, :1])
        flagged = np.zeros(len(x), dtype=int)
        for j, label in enumerate(labels):
            flagged |= (p[:, j] >= thresholds[label]).astype(int)
        return flagged, p[:, 0]

    log("held-out test splits (decision = any head or a category head over its threshold):")
    evaluation = {}
    for name, rows in test_sets.items():
        if rows:
            evaluation[name] = report(name, rows, *decide(embed(rows)))
    meta = {
        "format": 1,
        "embedder": "minilm",
        "gate": "min_any",
        "labels": labels,
        "thresholds": thresholds,
        "heads": head_stats,
        "training": {
            "command": "python training/train_guard.py " + " ".join(sys.argv[1:]),
            "seed": args.seed,
            "C": args.C,
            "safe_weight": args.safe_weight,
            "any_head": args.any_head,
            "hidden": args.hidden if args.any_head == "mlp" else None,
            "alpha": args.alpha if args.any_head == "mlp" else None,
            "caps": args.cap,
            "train_sets": train_sets,
            "threshold_sets": train_sets + VAL_ONLY,
            "held_out": "xstest (all); test split of every set (hash buckets 75-99, "
            "openai-moderation-dev 50-99)",
            "train_rows": len(train),
            "val_rows": len(val),
        },
        "test": evaluation,
    }
    (out / "embedding_head.json").write_text(json.dumps(meta, indent=1) + "\n", "utf-8")
    log(f"wrote {out}/embedding_head.npz (+ .json) in {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()
