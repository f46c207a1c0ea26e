"""KAR speed: one retraining cell today vs channels_last vs bf16, vs the plain training loop, and a whole default run.

    .venv/bin/python benchmarks/kar_cell.py                  # cells only (pixels and conv)
    .venv/bin/python benchmarks/kar_cell.py --fidelity       # + KAR accuracy per cell, bf16 vs fp32
    .venv/bin/python benchmarks/kar_cell.py --whole          # + the default grid end to end
    .venv/bin/python benchmarks/kar_cell.py --device cuda --epochs 30 --whole --jobs 4

"Plain" is what one would write without the KAR machinery: a network from the
same seed, ``explainers.model.train`` on the same (unmasked) data, test accuracy.
"Plain on blanked data" is the same loop on data mean-replaced beforehand (the
values KAR trains on; with augmentation the shift then moves blanked images).
"KAR" is ``kar.core.cells.run_cell`` at 50 % removed: ranking -> keep mask, mean
replacement of every training mini-batch and of the test set, same training.
KAR vs plain-on-blanked is the cost of the machinery; plain vs plain-on-blanked
is what the data themselves cost (mean-filled backgrounds make e.g. max-pooling,
which branches on values, slower on a CPU).
"KAR today" is the same cell in fp32 with contiguous (NCHW) memory, the path before
issue 10; "KAR bf16" under bfloat16 autocast (where the CPU has it natively); "KAR" is
the default (``explainers.compute``: fp32, channels_last).
All run with one CPU thread (as KAR cells always do), in alternating order
(ABBA), and the medians of ``--repeats`` are reported in wall-clock and in
process CPU time (the latter is less disturbed by other work on a shared
machine; on a GPU the wall time is the one that counts). Goal: KAR adds under 10 %.

``--whole`` runs ``kar.core.runner.run_kar`` with ``run_kar``'s default grid
(KarSpec.preset()) into a temporary folder, LIME weights computed (the slowest
case: no ExplanationSet), and reports its wall time. No Django needed, so this
also runs where only PyTorch is installed (give ``--mnist-dir`` there).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from explainers import compute  # noqa: E402
from explainers.compute import Compute  # noqa: E402
from explainers.data import load_mnist  # noqa: E402
from explainers.model import TrainConfig, accuracy, load_checkpoint, resolve_device, train  # noqa: E402
from kar.core import cells as kcells  # noqa: E402
from kar.core import masking as kmasking
from kar.core import report as kar_report  # noqa: E402
from kar.core import runner as krunner
from kar.core import spaces as kspaces
from kar.core import spec as kspec


def plain_cell(space: kspaces.FeatureSpace, seed: int, config: TrainConfig, device, keep=None) -> float:
    """The plain loop; with ``keep``, on data blanked beforehand (what KAR trains on, minus the machinery)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x_train, x_test = space.x_train, space.x_test
        if keep is not None:
            x_train = torch.as_tensor(kmasking.mean_replace(space.x_train.numpy(), keep, space.means.numpy()))
            x_test = torch.as_tensor(kmasking.mean_replace(space.x_test.numpy(), keep, space.means.numpy()))
        model = space.build_model(seed)
        train(model, x_train, space.y_train, config=config, seed=seed, device=device)
        return accuracy(model, x_test, space.y_test.numpy())
    finally:
        torch.set_num_threads(threads)


TODAY = Compute("fp32", "contiguous")  # the path before issue 10


def fidelity(space: kspaces.FeatureSpace, config: TrainConfig, device, thresholds=(10, 50, 90)) -> list[tuple]:
    """(threshold, fp32 accuracy, bf16 accuracy) of KAR cells (random ranking, seed 0) in both precisions."""
    importance = np.random.default_rng(0).random(space.dim)
    rows = []
    for threshold in thresholds:
        cell = kcells.Cell(space.name, "random", threshold, 1, 0)
        acc = {}
        for setting in (Compute("fp32", "channels_last"), Compute("bf16", "channels_last")):
            with compute.using(setting):
                acc[setting.precision], _ = kcells.run_cell(
                    space, importance, cell, mode="kar", config=config, device=device, tiebreak_seed=0
                )
        rows.append((threshold, acc["fp32"], acc["bf16"]))
    return rows


def time_cells(space: kspaces.FeatureSpace, config: TrainConfig, device, repeats: int) -> dict:
    """Median wall and CPU seconds of both variants; the order alternates (ABBA) so drift cancels."""
    importance = np.random.default_rng(0).random(space.dim)
    cell = kcells.Cell(space.name, "random", 50, 1, 0)

    keep = kmasking.keep_mask(importance, cell.threshold, "kar", 0)

    def kar_cell(setting: Compute = compute.current()):
        with compute.using(setting):
            return kcells.run_cell(space, importance, cell, mode="kar", config=config, device=device, tiebreak_seed=0)

    variants = {
        "plain": lambda: plain_cell(space, 0, config, device),
        "plain_masked": lambda: plain_cell(space, 0, config, device, keep=keep),
        "kar": kar_cell,
        "kar_today": lambda: kar_cell(TODAY),
    }
    if compute.bf16_supported(device):
        variants["kar_bf16"] = lambda: kar_cell(Compute("bf16", "channels_last"))
    plain_cell(space, 0, TrainConfig(epochs=1, batch_size=config.batch_size), device)  # warm-up (lazy init)
    times = {name: ([], []) for name in variants}
    for i in range(repeats):
        order = list(variants.items())
        for name, fn in order if i % 2 == 0 else order[::-1]:
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            times[name][0].append(time.perf_counter() - wall)
            times[name][1].append(time.process_time() - cpu)
    out = {}
    for clock, k in (("wall", 0), ("cpu", 1)):
        med = {name: statistics.median(t[k]) for name, t in times.items()}
        out[clock] = {
            **{f"{n}_s": v for n, v in med.items()},
            "overhead_pct": 100 * (med["kar"] - med["plain"]) / med["plain"],
            "machinery_pct": 100 * (med["kar"] - med["plain_masked"]) / med["plain_masked"],
            "all": {n: t[k] for n, t in times.items()},
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", default=None, help="official MNIST files (default: the embedded 5k subset)")
    parser.add_argument(
        "--model", default=str(ROOT / "var" / "model" / "mnist_cnn.pt"), help="checkpoint (for conv features)"
    )
    parser.add_argument(
        "--epochs", type=int, default=kspec.DEFAULT_SETTINGS["epochs"], help="epochs per cell (default: run_kar's)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--whole", action="store_true", help="also time the whole default run")
    parser.add_argument("--jobs", type=int, default=None, help="jobs for --whole (default: CPU cores; 1 on a GPU)")
    parser.add_argument("--skip-cells", action="store_true", help="only --whole (and --fidelity)")
    parser.add_argument("--fidelity", action="store_true", help="KAR accuracy per cell, bf16 vs fp32")
    args = parser.parse_args()

    device = resolve_device(args.device)
    data = load_mnist(args.mnist_dir)
    checkpoint = load_checkpoint(args.model, device)
    print(
        f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} torch threads available, "
        f"cpus {len(os.sched_getaffinity(0))}, data: {data.source}"
    )
    spaces = {"pixels": kspaces.pixel_space(data), "conv": kspaces.conv_space(data, checkpoint)}
    config = TrainConfig(epochs=args.epochs)
    if not args.skip_cells:
        for name, space in spaces.items():
            timings = time_cells(space, config, device, args.repeats)
            for clock, r in timings.items():
                runs = "; ".join(f"{n} {', '.join(f'{s:.2f}' for s in v)}" for n, v in r["all"].items())
                extra = "".join(
                    f", {n} {r[f'{n}_s']:.2f} s (KAR today / {n} {r['kar_today_s'] / r[f'{n}_s']:.2f}x)"
                    for n in ("kar", "kar_bf16")
                    if f"{n}_s" in r
                )
                print(
                    f"{name:6s} cell, {args.epochs} epochs, {clock:4s} time: KAR today (fp32 contiguous) "
                    f"{r['kar_today_s']:.2f} s{extra}; load average {os.getloadavg()[0]:.2f}"
                )
                print(
                    f"{name:6s} cell, {args.epochs} epochs on {len(space.y_train)} rows, {clock:4s} time: "
                    f"plain {r['plain_s']:.2f} s, plain on blanked data {r['plain_masked_s']:.2f} s, KAR {r['kar_s']:.2f} s "
                    f"-> KAR vs plain {r['overhead_pct']:+.1f} %, KAR machinery (vs plain on blanked data) "
                    f"{r['machinery_pct']:+.1f} % ({runs})"
                )
    if args.fidelity and compute.bf16_supported(device):
        for name, space in spaces.items():
            for threshold, fp32, bf16 in fidelity(space, config, device):
                print(
                    f"fidelity | {name} | {threshold} % removed | fp32 {fp32:.4f} | bf16 {bf16:.4f} | "
                    f"difference {bf16 - fp32:+.4f}"
                )
    if args.whole:
        jobs = args.jobs or (1 if device.type == "cuda" else len(os.sched_getaffinity(0)))
        spec = kspec.KarSpec.preset(epochs=args.epochs)
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            outcome = krunner.run_kar(
                spec,
                spaces,
                kspaces.explained_models(checkpoint),
                out,
                inputs={"model": args.model, "data": data.describe()},
                device=device,
                jobs=jobs,
                progress=False,
            )
            seconds = time.perf_counter() - t
            ranking = sum(s["seconds"] for s in outcome.manifest["rankings"].values())

            report = kar_report.write_report(out)
            print(kar_report.text_tables(report.summary))
        print(
            f"whole default run: {outcome.ran} cells + rankings in {seconds:.0f} s "
            f"({ranking:.0f} s rankings, {seconds - ranking:.0f} s cells) on {device} with {jobs} jobs"
        )


if __name__ == "__main__":
    main()
