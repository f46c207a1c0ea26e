"""KAR's rankings, timed one ranker at a time, for this checkout or another one, side by side.

    .venv/bin/python benchmarks/kar_rankings.py --model results/kar/model/mnist_cnn.pt
    .venv/bin/python benchmarks/kar_rankings.py --model ... --code /path/to/other/checkout --code .

Each ranker of ``kar.core.rankings`` with run_kar's default RankingConfig (``--per-class``
images per class, the same for every method): the LIME weights (NormLIME and LIME share
them), the noise tunnel (SmoothGrad² and VarGrad share it), Kernel SHAP and IG, on pixels and
conv features. With several ``--code`` folders each is run in its own process, alternating
A B B A ... over ``--repeats``, and the medians are printed side by side with the largest
difference of the rankings from the first folder's (0 when the code changes only speed).
No Django needed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RANKERS = ("lime", "smoothgrad", "shap", "ig")  # one method per shared computation


def measure(args) -> None:
    """In this process: time each ranker of the checkout at ``args.code[0]`` and save the rankings."""
    sys.path.insert(0, str(Path(args.code[0]).resolve()))
    import time

    import numpy as np
    import torch

    from explainers.data import load_embedded
    from explainers.model import load_checkpoint
    from kar.core.rankings import RankingConfig, compute_rankings
    from kar.core.spaces import conv_space, explained_models, pixel_space

    torch.set_num_threads(args.threads)
    data = load_embedded()
    checkpoint = load_checkpoint(args.model)
    spaces = {"pixels": pixel_space(data), "conv": conv_space(data, checkpoint)}
    models = explained_models(checkpoint)
    config = RankingConfig(**({"per_class": args.per_class} if args.per_class else {}))
    seconds, rankings = {}, {}
    for name in args.feature_sets:
        for method in RANKERS:
            t = time.perf_counter()
            ranking, _ = compute_rankings({name: spaces[name]}, models, [method], config=config, seeds={1: 0})
            seconds[f"{name}/{method}"] = time.perf_counter() - t
            rankings.update(ranking)
    np.savez(args.save, **rankings)
    Path(args.save).with_suffix(".json").write_text(json.dumps({"seconds": seconds, "per_class": config.per_class}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "var" / "model" / "mnist_cnn.pt"))
    parser.add_argument(
        "--code", action="append", default=None, help="a checkout to time (repeat to compare; default this one)"
    )
    parser.add_argument("--feature-sets", nargs="+", default=["pixels", "conv"])
    parser.add_argument("--per-class", type=int, default=None, help="images per class (default: RankingConfig's)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--save", default=None, help=argparse.SUPPRESS)  # internal: one measurement's output
    args = parser.parse_args()
    args.code = args.code or [str(ROOT)]
    if args.save:
        return measure(args)

    import numpy as np

    times: dict[str, dict[str, list[float]]] = {c: {} for c in args.code}
    last: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        order = [c for r in range(args.repeats) for c in (args.code if r % 2 == 0 else args.code[::-1])]
        for i, code in enumerate(order):
            save = str(Path(tmp) / f"{i}.npz")
            cmd = [
                sys.executable,
                __file__,
                "--model",
                args.model,
                "--code",
                code,
                "--threads",
                str(args.threads),
                "--save",
                save,
                "--feature-sets",
                *args.feature_sets,
            ]
            if args.per_class:
                cmd += ["--per-class", str(args.per_class)]
            subprocess.run(cmd, check=True)
            measured = json.loads(Path(save).with_suffix(".json").read_text())
            for key, s in measured["seconds"].items():
                times[code].setdefault(key, []).append(s)
            last[code] = save
        reference = np.load(last[args.code[0]])
        print(
            f"{measured['per_class']} images per class, {args.threads} torch threads, load average "
            f"{os.getloadavg()[0]:.2f}; median seconds over {args.repeats} run(s) of each checkout (ABBA)"
        )
        print(
            "| ranking | "
            + " | ".join(Path(c).resolve().name for c in args.code)
            + " | largest change from the first |"
        )
        print("|---|" + "---|" * (len(args.code) + 1))
        for key in times[args.code[0]]:
            cells = [f"{statistics.median(times[c][key]):.2f}" for c in args.code]
            change = max(float(np.abs(np.load(last[c])[key] - reference[key]).max()) for c in args.code)
            print(f"| {key} | " + " | ".join(cells) + f" | {change:.3g} |")
        totals = [f"{sum(statistics.median(v) for v in times[c].values()):.1f}" for c in args.code]
        print("| all | " + " | ".join(totals) + " | |")


if __name__ == "__main__":
    main()
