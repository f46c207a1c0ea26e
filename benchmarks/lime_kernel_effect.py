"""How many of LIME's K selected features change between the old kernel and lime's.

    .venv/bin/python benchmarks/lime_kernel_effect.py [--instances 20] [--epochs 2] [--num-samples 1000] [--k 20]

The old kernel exp(-d^2 / w^2) is lime's sqrt(exp(-d^2 / w^2)) at width w / sqrt(2), so both are
``lime_local`` with the same seed (the same perturbations and model queries) and only the width
differs: the default width w for lime's kernel, w / sqrt(2) for the old one. The network is
var/model/mnist_cnn.pt when present, else one trained for ``--epochs`` on the embedded training
digits; the instances are the first ``--instances`` embedded test digits, each explained for the
model's prediction.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explainers.data import load_embedded  # noqa: E402
from explainers.methods import lime_local  # noqa: E402
from explainers.methods.lime import DEFAULT_SIGMA, default_kernel_width  # noqa: E402
from explainers.model import TrainConfig, load_checkpoint, new_model, probabilities, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = load_embedded()
    checkpoint = ROOT / "var" / "model" / "mnist_cnn.pt"
    if checkpoint.is_file():
        model, origin = load_checkpoint(checkpoint), str(checkpoint)
    else:
        model = train(new_model(0), data.x_train, data.y_train, config=TrainConfig(epochs=args.epochs), seed=0)
        origin = f"trained {args.epochs} epochs on the {len(data.x_train)} embedded training digits"
    f = probabilities(model)
    x = data.x_test[: args.instances]
    width = default_kernel_width(x.shape[1], DEFAULT_SIGMA)
    common = dict(num_samples=args.num_samples, sigma=DEFAULT_SIGMA, num_features=args.k, seed=args.seed)
    new = lime_local(f, x, kernel_width=width, **common)
    old = lime_local(f, x, kernel_width=width / math.sqrt(2), **common)

    changed = np.array([len(set(np.flatnonzero(a)) - set(np.flatnonzero(b))) for a, b in zip(new, old)])
    same_top = np.array([np.argmax(np.abs(a)) == np.argmax(np.abs(b)) for a, b in zip(new, old)])
    print(
        f"model: {origin}; {len(x)} test digits; K = {args.k}; {args.num_samples} samples; "
        f"sigma = {DEFAULT_SIGMA}; width = {width:.3f} (old kernel: lime's at {width / math.sqrt(2):.3f})"
    )
    print(
        f"selected features that change (of {args.k}): mean {changed.mean():.2f}, median {np.median(changed):.0f}, "
        f"max {changed.max()}, instances with any change {np.count_nonzero(changed)}/{len(x)}"
    )
    print(f"per instance: {changed.tolist()}")
    print(f"largest |weight| is the same feature in {same_top.sum()}/{len(x)} instances")


if __name__ == "__main__":
    main()
