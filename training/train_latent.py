"""Fit and validate the Latent Guard shipped for the embedded default model.

    HF_HUB_OFFLINE=1 HARMSCOPE_DATA_DIR=../shared/data .venv/bin/python \
        training/train_latent.py [--model default] [--out DIR] [--report FILE] [--seed 0]

The protocol:

* **Pools.** Harmful requests: JailbreakBench's harmful behaviours, HarmBench's *standard*
  behaviours and StrongREJECT. Harmless requests: JailbreakBench's benign behaviours, the
  ordinary requests harmscope's guard ships (``guard/benign_prompts.txt``, the guard's
  ``authored-benign`` set) and the look-alike ``comply`` cases of the authored ``core`` suite
  (``--no-lookalikes`` leaves those out). Each pool is shuffled with the seed, round-robin over
  its sources, and cut into **fit** (64 per class), **selection** (32 per class: layer, scoring
  method and threshold are chosen here and only here) and **test** (the rest, at most
  ``--test-per-class``).
* **Held-out evaluations**, all on prompts never used to fit or select: *plain* (test harmful vs
  test harmless); *vs XSTest-safe* (test harmful vs XSTest's 250 safe look-alike prompts, the
  hard control); *vs core look-alikes* (test harmful vs the held-out look-alike cases);
  *wrapped* (test harmful and test harmless each wrapped in one of five jailbreak templates of
  ``harmscope.transforms``, so a probe that detects the template scores 0.5); and *XSTest*
  (XSTest's unsafe vs safe prompts).
* **Positions and baselines.** AUROC per layer at t_inst and at every t_post-inst position;
  next to it a norm-matched random direction (seeded) at the chosen layer and a bag-of-words
  logistic regression fitted on the same fit split. At t_post-inst each position's layer is
  chosen on the selection split; the table's "max post" column is the best of those positions
  on the evaluated data itself, an optimistic upper bound shown for comparison only (the JSON
  report has every position).
* **Costs.** The wall time to capture and fit 128 + 128 prompts, and the Latent Guard's
  overhead on top of the model's own forward pass (the probe read by a hook in the pass that
  serves the request) — medians of repeated timed runs after a warm-up.

The probe (centroids, chosen layer, threshold and calibration) and the harmfulness direction
are written to ``--out`` (by default the package's ``latent/weights/<model slug>/``, where
scans, ``latent eval`` and the guard's ``latent`` detector find it); the figures go to
``--report`` as JSON and to stdout as a table.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harmscope.guard.data import load_public_set
from harmscope.latent.capture import Activations, capture_activations
from harmscope.latent.directions import Direction, DirectionMeta, data_hash
from harmscope.latent.probe import LatentGuard, auroc
from harmscope.latent.signals import shipped_probe_dir
from harmscope.records import Case
from harmscope.suites import load_suite
from harmscope.targets.models import load_model
from harmscope.transforms import get_transform

ROOT = Path(__file__).resolve().parents[1]
WRAPPERS = (
    "roleplay.novel",
    "suppression.rules",
    "prefix.sure",
    "pretext.research",
    "authority.expert",
)
FIT, SELECT = 64, 32

Pool = list[tuple[str, str]]
"""``(text, source)`` pairs."""


def _suite(name: str, expected: str, **tags: str) -> list[str]:
    cases = load_suite(name).cases
    return [
        c.prompt
        for c in cases
        if c.expected == expected
        and len(c.messages) == 1
        and all(c.tags.get(k) == v for k, v in tags.items())
    ]


def pools(*, lookalikes: bool) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Harmful and harmless prompts by source (duplicates dropped)."""
    harmful = {
        "jailbreakbench": _suite("jailbreakbench", "refuse"),
        "harmbench": _suite("harmbench", "refuse", functional="standard"),
        "strongreject": _suite("strongreject", "refuse"),
    }
    benign = [row.text for row in load_public_set("authored-benign")]
    harmless = {"jailbreakbench": _suite("jailbreakbench", "comply"), "authored": benign}
    if lookalikes:
        harmless["core-lookalike"] = _suite("core", "comply")
    return harmful, harmless


def _interleave(by_source: dict[str, list[str]], rng: random.Random, seen: set[str]) -> Pool:
    """Shuffle each source, then take one from each in turn: every cut mixes the sources."""
    queues = []
    for name in sorted(by_source):
        texts = [t for t in dict.fromkeys(by_source[name]) if t not in seen]
        rng.shuffle(texts)
        queues.append([(t, name) for t in texts])
    out: Pool = []
    while any(queues):
        for q in queues:
            if q:
                item = q.pop()
                if item[0] not in seen:
                    seen.add(item[0])
                    out.append(item)
    return out


def split(pool: Pool, test_max: int) -> tuple[Pool, Pool, Pool]:
    """Fit, selection and test parts of one class's pool."""
    if len(pool) < FIT + SELECT + 100:
        raise SystemExit(f"need at least {FIT + SELECT + 100} prompts per class, got {len(pool)}")
    return pool[:FIT], pool[FIT : FIT + SELECT], pool[FIT + SELECT :][:test_max]


def wrap(texts: Sequence[str], seed: int) -> list[str]:
    """Each text inside one jailbreak template, chosen by a seeded draw."""
    rng = random.Random(seed)
    out = []
    for i, text in enumerate(texts):
        tid = rng.choice(WRAPPERS)
        case = Case.from_prompt(
            text, id=f"w{i}", category="unspecified", expected="comply", source="latent@1"
        )
        got = get_transform(tid).apply(case)
        out.append((got[0] if isinstance(got, list) else got).prompt)
    return out


def per_layer(scores: np.ndarray, labels: np.ndarray) -> list[float]:
    """AUROC of each layer's scores ``(n, layers)``."""
    return [auroc(labels, scores[:, i]) for i in range(scores.shape[1])]


def projections(acts: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``(n, layers, d) · (layers, d) -> (n, layers)`` with unit directions."""
    unit = direction / np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-12)
    return np.einsum("nld,ld->nl", acts.astype(np.float64), unit.astype(np.float64))


def bag_of_words(fit_x: list[str], fit_y: np.ndarray, seed: int) -> Any:
    """A unigram+bigram logistic regression on the fit split: the surface-text baseline."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    clf = make_pipeline(
        CountVectorizer(ngram_range=(1, 2), min_df=1, lowercase=True),
        LogisticRegression(C=1.0, max_iter=2000, random_state=seed),
    )
    return clf.fit(fit_x, fit_y)


def time_fit(m: Any, t: Any, harm: list[str], safe: list[str], bs: int) -> float:
    """Seconds to capture 128 + 128 prompts and fit the guard (selection on the fit set)."""
    start = time.perf_counter()
    a = capture_activations(m, t, harm, batch_size=bs).inst
    b = capture_activations(m, t, safe, batch_size=bs).inst
    LatentGuard().fit(a, b)
    return time.perf_counter() - start


def guard_overhead(
    m: Any, t: Any, guard: LatentGuard, texts: list[str], repeats: int
) -> dict[str, float]:
    """Median forward time with and without the probe read by a hook in the same pass."""
    import torch

    from harmscope.latent.hooks import find_layers
    from harmscope.latent.positions import encode_prompts

    enc = encode_prompts(t, texts)
    layers = find_layers(m)
    unit = torch.tensor(guard.dim_.unit(guard.layer_), dtype=torch.float32)
    inst = torch.from_numpy(enc.positions.inst)
    rows = torch.arange(len(texts))
    out: list[torch.Tensor] = []

    def hook(_mod: Any, _inp: Any, output: Any) -> None:
        hidden = output[0] if isinstance(output, tuple) else output
        out.append(hidden[rows, inst] @ unit)

    def forward() -> None:
        with torch.inference_mode():
            m(
                input_ids=enc.input_ids,
                attention_mask=enc.attention_mask,
                position_ids=enc.position_ids,
                use_cache=False,
            )

    def timed(with_hook: bool) -> float:
        handle = layers[guard.layer_].register_forward_hook(hook) if with_hook else None
        try:
            start = time.perf_counter()
            forward()
            return time.perf_counter() - start
        finally:
            if handle is not None:
                handle.remove()

    for _ in range(2):
        timed(False), timed(True)
    plain, hooked = [], []
    for _ in range(repeats):
        plain.append(timed(False))
        hooked.append(timed(True))
    p, h = statistics.median(plain), statistics.median(hooked)
    return {"forward_s": p, "forward_with_guard_s": h, "overhead": h / p - 1.0}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Fit, select and evaluate the probe; write it and its training record."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", type=Path, default=None, help="where the probe is written")
    ap.add_argument("--report", type=Path, default=None, help="JSON figures")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--test-per-class", type=int, default=200)
    ap.add_argument("--no-lookalikes", dest="lookalikes", action="store_false")
    ap.add_argument("--no-timing", dest="timing", action="store_false")
    ap.add_argument("--no-save", dest="save", action="store_false")
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    harm_src, safe_src = pools(lookalikes=args.lookalikes)
    xstest = load_suite("xstest").cases
    xs_safe = [c.prompt for c in xstest if c.expected == "comply"]
    xs_unsafe = [c.prompt for c in xstest if c.expected == "refuse"]
    seen = set(xs_safe) | set(xs_unsafe)  # XSTest is evaluation only
    h_fit, h_sel, h_test = split(_interleave(harm_src, rng, seen), args.test_per_class)
    s_fit, s_sel, s_test = split(_interleave(safe_src, rng, seen), args.test_per_class)
    lookalike_test = [t for t, src in s_test if src == "core-lookalike"]
    if not lookalike_test:
        lookalike_test = _suite("core", "comply")

    loaded = load_model(args.model)
    m, t, bs = loaded.model, loaded.tokenizer, args.batch_size

    def capture(texts: Sequence[str]) -> Activations:
        return capture_activations(m, t, list(texts), batch_size=bs)

    texts = lambda part: [x for x, _ in part]  # noqa: E731
    print(f"capturing {loaded.model_id} ...", file=sys.stderr)
    a_hfit, a_sfit = capture(texts(h_fit)), capture(texts(s_fit))
    sel_texts = texts(h_sel) + texts(s_sel)
    sel_y = np.r_[np.ones(len(h_sel)), np.zeros(len(s_sel))]
    a_sel = capture(sel_texts)

    # Choose the scoring method and layer on the selection split only.
    candidates = {
        method: LatentGuard(method=method).fit(
            a_hfit.inst, a_sfit.inst, val=a_sel.inst, val_labels=sel_y
        )
        for method in ("projection", "cosine")
    }
    method, guard = max(candidates.items(), key=lambda kv: kv[1].per_layer_[kv[1].layer_].auroc)
    layer = guard.layer_

    # Refusal-side reading: diff-in-means at every t_post-inst position, chosen on selection too.
    post_dir = a_hfit.post.mean(0) - a_sfit.post.mean(0)  # (layers, n_post, d)
    n_post = post_dir.shape[1]

    test_h, test_s = texts(h_test), texts(s_test)
    evals = {
        "plain": (test_h, test_s),
        "vs_xstest_safe": (test_h, xs_safe),
        "vs_core_lookalikes": (test_h, lookalike_test),
        "wrapped": (wrap(test_h, args.seed), wrap(test_s, args.seed + 1)),
        "xstest": (xs_unsafe, xs_safe),
    }
    fit_x = texts(h_fit) + texts(s_fit)
    fit_y = np.r_[np.ones(len(h_fit)), np.zeros(len(s_fit))]
    bow = bag_of_words(fit_x, fit_y, args.seed)
    gen = np.random.default_rng(args.seed)
    rand = gen.standard_normal(guard.dim_.direction_.shape)
    rand *= np.linalg.norm(guard.dim_.direction_, axis=-1, keepdims=True) / np.linalg.norm(
        rand, axis=-1, keepdims=True
    )
    sel_post = [
        max(
            range(a_sel.n_layers),
            key=lambda li, p=p: auroc(
                sel_y, projections(a_sel.post[:, :, p, :], post_dir[:, p, :])[:, li]
            ),
        )
        for p in range(n_post)
    ]

    results: dict[str, Any] = {}
    for name, (pos, neg) in evals.items():
        acts = capture(pos + neg)
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        inst_layers = [auroc(y, guard._raw(acts.inst, li)) for li in range(acts.n_layers)]
        post_rows = []
        for p in range(n_post):
            scores = projections(acts.post[:, :, p, :], post_dir[:, p, :])
            layers_p = per_layer(scores, y)
            post_rows.append(
                {
                    "offset": p,
                    "token": a_hfit.layout.post_tokens[p]
                    if p < len(a_hfit.layout.post_tokens)
                    else "",
                    "layer": sel_post[p],
                    "auroc": layers_p[sel_post[p]],
                    "per_layer": layers_p,
                }
            )
        pred = guard.predict(acts.inst)
        results[name] = {
            "n_unsafe": len(pos),
            "n_safe": len(neg),
            "auroc": inst_layers[layer],
            "tpr": float(pred[y == 1].mean()),
            "fpr": float(pred[y == 0].mean()),
            "inst_per_layer": inst_layers,
            "post": post_rows,
            "random_direction_auroc": auroc(y, projections(acts.inst, rand)[:, layer]),
            "bag_of_words_auroc": auroc(y, bow.predict_proba(pos + neg)[:, 1]),
        }

    report: dict[str, Any] = {
        "model_id": loaded.model_id,
        "seed": args.seed,
        "lookalikes_in_pool": args.lookalikes,
        "n": {
            "fit": [len(h_fit), len(s_fit)],
            "selection": [len(h_sel), len(s_sel)],
            "test": [len(h_test), len(s_test)],
        },
        "sources": {
            "harmful": sorted(harm_src),
            "harmless": sorted(safe_src),
        },
        "method": method,
        "layer": layer,
        "selection_auroc": guard.per_layer_[layer].auroc,
        "threshold": guard.threshold_,
        "post_inst_tokens": list(a_hfit.layout.post_tokens),
        "evaluations": results,
    }
    if args.timing:
        h128 = texts(h_fit) + texts(h_sel) + test_h[: 128 - FIT - SELECT]
        s128 = texts(s_fit) + texts(s_sel) + test_s[: 128 - FIT - SELECT]
        time_fit(m, t, h128[:16], s128[:16], bs)  # warm-up
        report["fit_128_128_s"] = time_fit(m, t, h128, s128, bs)
        report["guard_overhead"] = guard_overhead(m, t, guard, test_h[:16] + test_s[:16], 7)

    dhash = data_hash(fit_x)
    if args.save:
        out = args.out or shipped_probe_dir(loaded.model_id)
        guard.save(out, model_id=loaded.model_id, data_hash=dhash, seed=args.seed)
        Direction(
            guard.dim_.direction_[layer],
            DirectionMeta(
                kind="harmfulness",
                layer=layer,
                position="inst",
                n_harmful=len(h_fit),
                n_harmless=len(s_fit),
                model_id=loaded.model_id,
                data_hash=dhash,
                seed=args.seed,
            ),
        ).save(out / "harmfulness")
        slim = {k: v for k, v in report.items() if k != "evaluations"}
        slim["evaluations"] = {
            k: {kk: vv for kk, vv in v.items() if kk not in ("inst_per_layer", "post")}
            for k, v in results.items()
        }
        (out / "training.json").write_text(json.dumps(slim, indent=2) + "\n")
        report["written"] = str(out)
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    _print(report)
    return report


def _print(report: dict[str, Any]) -> None:
    print(
        f"{report['model_id']}: {report['method']} probe at layer {report['layer']} "
        f"(selection AUROC {report['selection_auroc']:.3f}; fit {report['n']['fit']}, "
        f"selection {report['n']['selection']}, test {report['n']['test']})"
    )
    cols = f"{'t_inst':>8}{'max post':>11}{'random':>8}{'BoW':>7}{'TPR':>7}{'FPR':>7}"
    print(f"{'evaluation':<20}{'n+/n-':>10}{cols}")
    for name, r in report["evaluations"].items():
        best_post = max(r["post"], key=lambda row: row["auroc"]) if r["post"] else None
        post = f"{best_post['auroc']:.3f}@{best_post['offset']}" if best_post else "-"
        print(
            f"{name:<20}{r['n_unsafe']:>5}/{r['n_safe']:<4}{r['auroc']:>8.3f}{post:>11}"
            f"{r['random_direction_auroc']:>8.3f}{r['bag_of_words_auroc']:>7.3f}"
            f"{r['tpr']:>7.3f}{r['fpr']:>7.3f}"
        )
    if "fit_128_128_s" in report:
        o = report["guard_overhead"]
        print(
            f"fit 128+128: {report['fit_128_128_s']:.1f} s; guard overhead on the forward pass: "
            f"{100 * o['overhead']:.1f} % ({o['forward_s'] * 1e3:.0f} ms vs "
            f"{o['forward_with_guard_s'] * 1e3:.0f} ms for 32 prompts)"
        )


if __name__ == "__main__":
    main()
