"""bf16's fidelity to fp32 on the same draws: LIME's top-K selections and every method's class maps.

    .venv/bin/python benchmarks/precision_fidelity.py [--model var/model/mnist_cnn.pt] [--per-class 10]
                                                      [--images-per-class 2]

Runs ``explainers.generation.generate`` twice with the same seed, images and draws,
once in fp32 and once under bf16 autocast (both channels_last), and prints:

- the share of LIME's selected features that are identical (|S_bf16 & S_fp32| / |S_fp32|,
  over all local explanations) and the share of explanations with the very same set;
- the Pearson correlation of each method's class maps (all 10 x 784 values).

Issue 10's rule: bf16 may become the default only with >= 95 % identical selections and
every map correlated above 0.99 (``explainers.compute.DEFAULT_PRECISION``).
A trained model is needed for the figures to mean anything.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explainers import compute  # noqa: E402
from explainers.compute import Compute  # noqa: E402
from explainers.data import load_embedded  # noqa: E402
from explainers.generation import GenerationConfig, generate  # noqa: E402
from explainers.methods import registry  # noqa: E402
from explainers.model import file_sha256, load_checkpoint  # noqa: E402

SELECTIONS_RULE, CORRELATION_RULE = 0.95, 0.99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "var" / "model" / "mnist_cnn.pt"))
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--images-per-class", type=int, default=2)
    args = parser.parse_args()
    if not compute.bf16_supported("cpu"):
        sys.exit("this CPU has no native bfloat16: nothing to compare")
    model = load_checkpoint(args.model)
    data = load_embedded()
    config = GenerationConfig(per_class=args.per_class, images_per_class=args.images_per_class)
    results, seconds = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("fp32", "bf16"):
            with compute.using(Compute(precision, "channels_last")):
                t = time.perf_counter()
                results[precision] = generate(model, file_sha256(args.model), data, Path(tmp) / precision, config)
                seconds[precision] = time.perf_counter() - t
            results[precision].W = np.load(Path(tmp) / precision / "local_weights.npz")["W"]
    W32, W16 = results["fp32"].W, results["bf16"].W
    same = [(a != 0) & (b != 0) for a, b in zip(W32, W16)]
    share = sum(int(s.sum()) for s in same) / int((W32 != 0).sum())
    identical_sets = np.mean([((a != 0) == (b != 0)).all() for a, b in zip(W32, W16)])
    print(
        f"model {args.model}; {len(W32)} local explanations, {args.images_per_class} images per class; "
        f"fp32 {seconds['fp32']:.0f} s, bf16 {seconds['bf16']:.0f} s; load average {os.getloadavg()[0]:.2f}"
    )
    print("| figure | bf16 vs fp32 | rule |\n|---|---|---|")
    print(f"| LIME selected features identical | {share:.1%} | >= {SELECTIONS_RULE:.0%} |")
    print(f"| LIME explanations with the identical set | {identical_sets:.1%} | |")
    ok = share >= SELECTIONS_RULE
    for method in registry.names():
        a, b = results["fp32"].maps[method].ravel(), results["bf16"].maps[method].ravel()
        r = float(np.corrcoef(a, b)[0, 1]) if a.std() and b.std() else float("nan")
        if method != "random":  # draws no model output: identical by construction
            ok = ok and r > CORRELATION_RULE
        print(f"| class maps correlated: {registry.label(method)} | {r:.4f} | > {CORRELATION_RULE} |")
    print(f"bf16 {'meets' if ok else 'fails'} issue 10's fidelity rule")


if __name__ == "__main__":
    main()
