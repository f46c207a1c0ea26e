"""How much KAR's NormLIME ranking moves with the CPU's arithmetic: two kernel sets on one machine.

    DJANGO_DEBUG=1 .venv/bin/python benchmarks/kar_cpu_rounding.py --model results/kar/model-official/mnist_cnn.pt \
        --data mnist:var/mnist --capabilities avx2,default

Each ``--capabilities`` entry runs in its own process with ``ATEN_CPU_CAPABILITY`` set to it
(PyTorch's vectorised kernels: ``default`` is the plain C++ path, ``avx2``/``avx512`` the SIMD
ones), which changes the float32 rounding of the model's forward passes the way another CPU
does. Each process computes run 1's NormLIME ranking (LIME weights of 10 training images per
class, float64 from the weights on) on the conv features, as ``run_kar --paper`` does; the
driver then prints, for the kept sets at 90 % and 50 % removed, how many features differ from
the first entry's, and the largest score difference (relative to the largest score). No GPU, no Django
database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(args) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import numpy as np
    import torch

    from explainers import cli
    from explainers.model import load_checkpoint
    from kar.core.rankings import RankingConfig, compute_rankings
    from kar.core.spaces import conv_space, explained_models

    torch.set_num_threads(1)
    data = cli.load_data({"data": args.data})
    data = data.train_subset(min(4000, len(data.y_train)))  # run_kar's default --train-size
    checkpoint = load_checkpoint(args.model)
    space = conv_space(data, checkpoint)
    ranking, _ = compute_rankings(
        {"conv": space}, explained_models(checkpoint), ["normlime"], config=RankingConfig(), seeds={1: 0}
    )
    np.save(args.save, ranking["conv/normlime/1"])
    print(f"{os.environ.get('ATEN_CPU_CAPABILITY', 'default')}: {torch.backends.cpu.get_cpu_capability()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="results/kar/model-official/mnist_cnn.pt")
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--capabilities", default="avx2,default")
    parser.add_argument("--save", help=argparse.SUPPRESS)  # the child process's output file
    args = parser.parse_args()
    if args.save:
        return measure(args)
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from kar.core.masking import keep_mask

    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cap in args.capabilities.split(","):
            out = Path(tmp) / f"{cap}.npy"
            env = {**os.environ, "ATEN_CPU_CAPABILITY": cap}
            cmd = [sys.executable, __file__, "--model", args.model, "--data", args.data, "--save", str(out)]
            subprocess.run(cmd, check=True, env=env)
            scores[cap] = np.load(out)
    first, *others = scores
    for cap in others:
        a, b = scores[first], scores[cap]
        rel = float(np.max(np.abs(a - b)) / np.max(np.abs(a)))
        flipped = int(np.sum((a > 0) != (b > 0)))  # selected by some explanation under one, by none under the other
        print(
            f"{first} against {cap}: largest score difference {rel:.2e} of the largest score; "
            f"{flipped} features scored 0 under one and not the other"
        )
        for threshold in (90, 50):
            ka, kb = keep_mask(a, threshold, tiebreak_seed=0), keep_mask(b, threshold, tiebreak_seed=0)
            print(f"  kept at {threshold} % removed: {int(ka.sum())} features, {int((ka & ~kb).sum())} differ")


if __name__ == "__main__":
    main()
