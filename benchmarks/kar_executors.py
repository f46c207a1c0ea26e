"""KAR executors: Dask LocalCluster vs the process pool it replaced, on the same cells (goal: <= 5 % overhead).

    .venv/bin/python benchmarks/kar_executors.py [--cells 8] [--epochs 1] [--jobs 2]

Cells are Random-ranked pixel cells on the embedded data (the ranking does not change a cell's cost).
Each executor's wall time includes starting its workers, as run_kar pays it once per session.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from explainers.data import load_embedded  # noqa: E402
from explainers.executor import DaskExecutor, InProcess  # noqa: E402
from explainers.model import TrainConfig  # noqa: E402
from kar.core.cells import Cell  # noqa: E402
from kar.core.runner import CellTask, run_cell_task  # noqa: E402
from kar.core.spaces import pixel_space  # noqa: E402

_TASK: list[CellTask] = []


def _init(task: CellTask) -> None:
    torch.set_num_threads(1)
    _TASK[:] = [task]


def _work(cell: Cell):
    return _TASK[0].run(cell)


class OldPool:
    """The hand-made pool run_kar used before Dask (torch.multiprocessing, spawn, imap_unordered)."""

    def __init__(self, jobs: int):
        self.workers = jobs

    def map_unordered(self, fn, task, cells, key=None):
        import torch.multiprocessing as tmp

        with tmp.get_context("spawn").Pool(min(self.workers, len(cells)), initializer=_init, initargs=(task,)) as pool:
            yield from pool.imap_unordered(_work, cells, chunksize=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dask-first", action="store_true")
    args = parser.parse_args()
    space = pixel_space(load_embedded())
    task = CellTask({"pixels": space}, {}, "kar", TrainConfig(epochs=args.epochs), "cpu")
    cells = [Cell("pixels", "random", 10 + 10 * (i % 9), 1 + i // 9, i // 9) for i in range(args.cells)]
    timings = {}
    order = [
        ("one cell in process", None),
        ("old pool", OldPool(args.jobs)),
        ("Dask LocalCluster", DaskExecutor(args.jobs)),
    ]
    if args.dask_first:  # the machine's load drifts: run both orders
        order[1], order[2] = order[2], order[1]
    for name, executor in order:
        start = time.perf_counter()
        if executor is None:
            results = list(InProcess().map_unordered(run_cell_task, task, cells[:1]))
        else:
            results = sorted(executor.map_unordered(run_cell_task, task, cells), key=lambda r: cells.index(r[0]))
        timings[name] = time.perf_counter() - start
        print(f"{name}: {timings[name]:.1f} s, mean cell {np.mean([r[2] for r in results]):.2f} s", flush=True)
    overhead = 100 * (timings["Dask LocalCluster"] - timings["old pool"]) / timings["old pool"]
    print(f"Dask vs old pool on {len(cells)} cells, {args.jobs} jobs, {args.epochs} epoch(s): {overhead:+.1f} %")


if __name__ == "__main__":
    main()
