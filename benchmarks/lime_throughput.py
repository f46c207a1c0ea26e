"""Local explanations per second, side by side in one run: today's path, channels_last, bf16, the functions' defaults, the `lime` package and the floor.

    .venv/bin/python benchmarks/lime_throughput.py [--instances 16] [--repeats 3] [--num-samples 1000] [--k 20]
                                                   [--model var/model/mnist_cnn.pt] [--compile]

Every path explains the same images with the same network (``--model`` when the file
exists, else a freshly initialised one: timing does not depend on the weights), the
same perturbations and the same K. The paths run interleaved, their order reversed
every other repeat, so load from other work on the machine falls on all of them; the
best of ``--repeats`` is reported (the least disturbed), with ratios to today's path.

- today's path: fp32, contiguous (NCHW) memory, at ``generate_explanations``'s old batch
  size 250 and at ``lime_local``'s old default 1000;
- fp32 channels_last and bf16 (autocast) channels_last at each candidate batch size;
- ``lime_local`` called with its defaults (``explainers.compute``'s default setting and
  ``FORWARD_BATCH``): what a researcher calling the function gets;
- the floor: the model's forward passes alone for the same rows, per setting;
- ``--compile``: ``torch.compile`` (inductor) of the network, its compile time and speed;
- the `lime` package (lasso_path), fewer instances (``--lime-instances``): it is slow.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explainers import compute  # noqa: E402
from explainers.compute import Compute  # noqa: E402
from explainers.data import load_embedded  # noqa: E402
from explainers.methods import lime_local  # noqa: E402
from explainers.model import load_checkpoint, new_model, probabilities  # noqa: E402

BATCH_SIZES = (125, 250, 500, 1000)
TODAY = Compute("fp32", "contiguous")


def paths(bf16: bool, batch_sizes=BATCH_SIZES) -> dict[str, tuple[Compute, int | None]]:
    """Name -> (setting, batch size; None = the function's default)."""
    out = {
        "today: fp32 contiguous, batch 250": (TODAY, 250),
        "today: fp32 contiguous, batch 1000": (TODAY, 1000),
    }
    for bs in batch_sizes:
        out[f"fp32 channels_last, batch {bs}"] = (Compute("fp32", "channels_last"), bs)
    if bf16:
        for bs in batch_sizes:
            out[f"bf16 channels_last, batch {bs}"] = (Compute("bf16", "channels_last"), bs)
    out["lime_local() defaults"] = (compute.current(), None)
    return out


def run_lime(f, x, setting: Compute, batch_size, num_samples: int, k: int) -> float:
    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    with compute.using(setting):
        t = time.perf_counter()
        lime_local(f, x, num_samples=num_samples, num_features=k, seed=0, **kwargs)
        return time.perf_counter() - t


def run_floor(f, rows: torch.Tensor, setting: Compute, batch_size: int) -> float:
    with compute.using(setting), torch.no_grad():
        t = time.perf_counter()
        for i in range(0, len(rows), batch_size):
            compute.forward(f, rows[i : i + batch_size])
        return time.perf_counter() - t


def interleaved(jobs: dict, repeats: int) -> dict[str, list[float]]:
    """Seconds of every job per repeat, in alternating order (ABC, CBA, ...)."""
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for r in range(repeats):
        order = list(jobs.items())
        for name, job in order if r % 2 == 0 else order[::-1]:
            times[name].append(job())
            print(f"repeat {r + 1}: {name} {times[name][-1]:.2f} s", file=sys.stderr, flush=True)
    return times


def time_lime_package(f, x, train, num_samples, k, instances) -> float:
    from lime.lime_tabular import LimeTabularExplainer

    def classifier_fn(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return f(torch.as_tensor(rows, dtype=torch.float32)).numpy()

    explainer = LimeTabularExplainer(
        train,
        mode="classification",
        discretize_continuous=False,
        sample_around_instance=True,
        feature_selection="lasso_path",
        random_state=0,
    )
    with torch.no_grad():
        targets = f(torch.as_tensor(x[:instances])).argmax(1).numpy()
    t = time.perf_counter()
    for row, target in zip(x[:instances], targets):  # one explanation at a time, as the package works
        explainer.explain_instance(row, classifier_fn, labels=(int(target),), num_features=k, num_samples=num_samples)
    return time.perf_counter() - t


def time_compile(model, x, num_samples: int, k: int, batch_size: int, repeats: int) -> tuple[float, float]:
    """(compile + first call seconds, best seconds of a call after) for torch.compile'd fp32 channels_last."""
    compiled = probabilities(torch.compile(compute.current().prepare(model)))
    t = time.perf_counter()
    run_lime(compiled, x, compute.current(), batch_size, num_samples, k)
    first = time.perf_counter() - t
    best = min(run_lime(compiled, x, compute.current(), batch_size, num_samples, k) for _ in range(repeats))
    return first, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=16)
    parser.add_argument("--lime-instances", type=int, default=4, help="for the lime package (default %(default)s)")
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=BATCH_SIZES, help="candidates (default %(default)s)"
    )
    parser.add_argument("--model", default=str(ROOT / "var" / "model" / "mnist_cnn.pt"))
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (inductor)")
    parser.add_argument("--skip-package", action="store_true", help="leave out the lime package")
    args = parser.parse_args()
    trained = Path(args.model).is_file()
    model = load_checkpoint(args.model) if trained else new_model(0).eval()
    f = probabilities(model)
    data = load_embedded()
    x = data.x_test[: args.instances]
    bf16 = compute.bf16_supported("cpu")
    rows = torch.rand(args.instances * args.num_samples, 784)

    lime_paths = paths(bf16, args.batch_sizes)
    for s, b in lime_paths.values():  # warm-up: oneDNN builds its primitives per setting and batch shape
        run_lime(f, x[:1], s, b, args.num_samples, args.k)
    jobs = {
        f"lime | {name}": (lambda s=s, b=b: run_lime(f, x, s, b, args.num_samples, args.k))
        for name, (s, b) in lime_paths.items()
    }
    for name, (s, b) in lime_paths.items():
        if b is not None and (name.startswith("today") or b == compute.FORWARD_BATCH):
            jobs[f"floor | {name}"] = lambda s=s, b=b: run_floor(f, rows, s, b)
    times = interleaved(jobs, args.repeats)
    best = {name: min(t) for name, t in times.items()}
    ref = best["lime | today: fp32 contiguous, batch 250"]

    load = os.getloadavg()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, bf16 native: {bf16}; "
        f"model: {'trained' if trained else 'untrained'}; {args.instances} instances x {args.num_samples} samples, "
        f"K={args.k}; best of {args.repeats} interleaved repeats; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print("| path | expl/s | vs today (250) | all runs (s) |\n|---|---|---|---|")
    for name, t in times.items():
        rate = args.instances / best[name]
        print(f"| {name} | {rate:.2f} | {ref / best[name]:.2f}x | {', '.join(f'{s:.2f}' for s in t)} |")
    if args.compile:
        first, after = time_compile(model, x, args.num_samples, args.k, compute.FORWARD_BATCH, args.repeats)
        eager = best[f"lime | fp32 channels_last, batch {compute.FORWARD_BATCH}"]
        gain = eager - after
        print(
            f"| lime | torch.compile fp32 channels_last, batch {compute.FORWARD_BATCH} | {args.instances / after:.2f} | "
            f"{ref / after:.2f}x | first call {first:.1f} s (compile), then {after:.2f} |"
        )
        repay = (first - after) / (gain / args.instances) if gain > 0 else float("inf")
        print(
            f"torch.compile repays its compile time after {repay:.0f} explanations "
            f"(a default generate_explanations run makes 1000)"
        )
    if not args.skip_package:
        theirs = time_lime_package(f, data.x_test, data.x_train, args.num_samples, args.k, args.lime_instances)
        print(
            f"| lime package (lasso_path), {args.lime_instances} instances | {args.lime_instances / theirs:.2f} | "
            f"{ref / (theirs * args.instances / args.lime_instances):.3f}x | {theirs:.2f} |"
        )


if __name__ == "__main__":
    main()
