"""Latent Guard on a real model: per-layer AUROC on held-out prompts, and capture throughput.

    HF_HUB_OFFLINE=1 HARMSCOPE_DATA_DIR=../shared/data .venv/bin/python \
        benchmarks/latent_probe.py [--model default] [--train jailbreakbench] [--test xstest]
        [--limit N] [--json]

Fits the probe on ``--train`` (75% train / 25% validation, seed 0; the validation split picks
the layer and threshold), then scores ``--test`` (every prompt, or a stratified ``--limit``)
and prints the AUROC at the chosen layer and at every layer, with prompts/s of the capture.
Test prompts that also occur in the training set are dropped.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any

from harmscope.latent.capture import capture_activations
from harmscope.latent.pipeline import evaluate_guard
from harmscope.latent.probe import LatentGuard
from harmscope.latent.prompts import load_prompts, split_prompts
from harmscope.targets.models import load_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="default")
    ap.add_argument("--train", default="jailbreakbench")
    ap.add_argument("--test", default="xstest")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    loaded = load_model(args.model)
    m, t, bs = loaded.model, loaded.tokenizer, args.batch_size
    train = load_prompts(args.train)
    seen = {p.text for p in train}
    test = [p for p in load_prompts(args.test) if p.text not in seen]
    if args.limit is not None and args.limit < len(test):
        rng = random.Random(0)
        unsafe = [p for p in test if p.label == "unsafe"]
        safe = [p for p in test if p.label == "safe"]
        k = args.limit // 2
        test = rng.sample(unsafe, min(k, len(unsafe))) + rng.sample(safe, min(k, len(safe)))
    sp = split_prompts(train, fractions=(0.75, 0.25, 0.0), seed=0)

    def acts(texts: list[str]) -> Any:
        return capture_activations(m, t, texts, batch_size=bs).inst

    harm = acts([p.text for p in sp.train if p.label == "unsafe"])
    safe = acts([p.text for p in sp.train if p.label == "safe"])
    val = acts([p.text for p in sp.val])
    guard = LatentGuard().fit(harm, safe, val=val, val_labels=[p.label == "unsafe" for p in sp.val])
    start = time.perf_counter()
    test_acts = acts([p.text for p in test])
    elapsed = time.perf_counter() - start
    result = evaluate_guard(guard, test_acts, [p.label == "unsafe" for p in test])
    result.update(
        model_id=loaded.model_id,
        train=args.train,
        test=args.test,
        val_auroc=guard.per_layer_[guard.layer_].auroc,
        capture_prompts_per_s=len(test) / elapsed,
    )
    if args.json:
        print(json.dumps(result))
        return
    print(f"{loaded.model_id}: fit on {args.train}, tested on {args.test} (n={result['n']})")
    for row in result["per_layer"]:
        mark = "  <- chosen on validation" if row["layer"] == result["layer"] else ""
        print(f"  layer {row['layer']:2d}  AUROC {row['auroc']:.3f}{mark}")
    print(f"AUROC {result['auroc']:.3f}; capture {result['capture_prompts_per_s']:.1f} prompts/s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
