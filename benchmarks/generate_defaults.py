"""``generate_explanations``'s work at its defaults, today's path (fp32 contiguous) vs the default setting, side by side.

    .venv/bin/python benchmarks/generate_defaults.py [--per-class 100] [--repeats 1] [--model var/model/mnist_cnn.pt]

Runs ``explainers.generation.generate`` (everything the command does but the database
registration) with ``GenerationConfig``'s defaults, except ``--per-class`` to scale the
LIME stage down on a busy machine, once per setting and repeat in alternating order,
and prints the wall time of each stage per run, with the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explainers import compute  # noqa: E402
from explainers.compute import Compute  # noqa: E402
from explainers.data import load_embedded  # noqa: E402
from explainers.generation import GenerationConfig, generate  # noqa: E402
from explainers.model import file_sha256, load_checkpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "var" / "model" / "mnist_cnn.pt"))
    parser.add_argument("--per-class", type=int, default=GenerationConfig.per_class)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--only", choices=("today", "default"), default=None, help="run one setting only")
    args = parser.parse_args()
    model, data = load_checkpoint(args.model), load_embedded()
    settings = {"today: fp32 contiguous, batch 250": Compute("fp32", "contiguous"), "default": compute.current()}
    if args.only:
        settings = {k: v for k, v in settings.items() if k.startswith(args.only)}
    config = GenerationConfig(per_class=args.per_class)
    print(f"GenerationConfig defaults but per_class={args.per_class}; {torch_threads()} threads")
    for r in range(args.repeats):
        order = list(settings.items())
        for name, setting in order if r % 2 == 0 else order[::-1]:
            with tempfile.TemporaryDirectory() as tmp, compute.using(setting):
                load = os.getloadavg()[0]
                t = time.perf_counter()
                result = generate(model, file_sha256(args.model), data, tmp, config)
                seconds = time.perf_counter() - t
            stages = ", ".join(f"{k} {v:.0f}" for k, v in result.manifest["seconds"].items())
            print(
                f"| {name} ({setting.describe()}) | {seconds:.0f} s | {stages} | load {load:.2f} -> "
                f"{os.getloadavg()[0]:.2f} |",
                flush=True,
            )


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
