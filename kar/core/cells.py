"""One cell (feature set, method, threshold, run): retrain with the removed features blanked, test.

Error gain = retrained test error - baseline test error, in percentage points
(negative when removal helped). The *baseline* is not the checkpoint being
explained: for each feature set and run it is retrained exactly like a cell
with 0 % removed (same seed, epochs, data, feature extractor), so a gain
measures removal and nothing else -- not a difference in training budget.

Every cell trains with one CPU thread (``torch.set_num_threads(1)``), wherever
it runs, so results do not depend on the number of workers: the thread count
changes float rounding, and training amplifies it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from explainers.model import TrainConfig, accuracy, train

from .masking import FeatureMask, keep_mask
from .spaces import FeatureSpace

BASELINE = "baseline"  # the method name of a feature set's 0 %-removed retraining in results.csv
RESULT_FIELDS = ("feature_set", "mode", "method", "threshold", "run", "seed", "accuracy", "error_gain", "seconds")


@dataclass(frozen=True, order=True)
class Cell:
    feature_set: str
    method: str  # a ranked method, or BASELINE
    threshold: int  # percent removed (0 for the baseline)
    run: int  # 1-based
    seed: int

    @property
    def is_baseline(self) -> bool:
        return self.method == BASELINE


@dataclass(frozen=True)
class Result:
    """One row of results.csv."""

    feature_set: str
    mode: str
    method: str
    threshold: int
    run: int
    seed: int
    accuracy: float
    error_gain: float  # percentage points
    seconds: float

    @property
    def is_baseline(self) -> bool:
        return self.method == BASELINE

    @property
    def key(self) -> tuple[str, str, str, int, int]:
        return (self.feature_set, self.mode, self.method, self.threshold, self.run)

    def csv_row(self) -> list[str]:
        return [
            self.feature_set,
            self.mode,
            self.method,
            str(self.threshold),
            str(self.run),
            str(self.seed),
            f"{self.accuracy:.6f}",
            f"{self.error_gain:.4f}",
            f"{self.seconds:.2f}",
        ]

    @classmethod
    def from_csv(cls, row: dict[str, str]) -> Result:
        return cls(
            row["feature_set"],
            row["mode"],
            row["method"],
            int(row["threshold"]),
            int(row["run"]),
            int(row["seed"]),
            float(row["accuracy"]),
            float(row["error_gain"]),
            float(row["seconds"]),
        )


def shifts(model: torch.nn.Module, space: FeatureSpace, config: TrainConfig) -> bool:
    """Whether :func:`explainers.model.train` shifts ``space``'s rows for ``model``: they are images of
    the model's own ``shape`` (the pixel space's CNN), and ``config`` asks for shifts."""
    shape = getattr(model, "shape", None)
    return bool(config.shift) and shape is not None and space.dim == int(np.prod(shape))


def train_cell(
    space: FeatureSpace,
    keep: np.ndarray | None,
    seed: int,
    config: TrainConfig,
    device: str | torch.device = "cpu",
) -> float:
    """Retrain ``space``'s network from ``seed`` with the features outside ``keep`` blanked; test accuracy.

    ``keep=None`` (or all True) is the baseline: plain training, no transform.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    mask = None if keep is None or bool(np.all(keep)) else FeatureMask(keep, space.means, device)
    model = space.build_model(seed)
    x_train, transform = space.x_train, mask
    if mask is not None and not shifts(model, space, config):
        # No augmentation touches these rows, so blanking the whole set once gives the very same
        # batches as blanking each one, for less work.
        x_train, transform = FeatureMask(keep, space.means)(space.x_train), None
    train(model, x_train, space.y_train, config=config, seed=seed, device=device, transform=transform)
    x_test = space.x_test if mask is None else mask(space.x_test.to(device))
    return accuracy(model, x_test, space.y_test.numpy())


def run_cell(
    space: FeatureSpace,
    importance: np.ndarray | None,
    cell: Cell,
    *,
    mode: str,
    config: TrainConfig,
    device: str | torch.device = "cpu",
    tiebreak_seed: int | None = None,
) -> tuple[float, float]:
    """(accuracy, seconds) of one cell, trained with a single CPU thread (see the module doc)."""
    start = time.perf_counter()
    keep = None if cell.is_baseline else keep_mask(importance, cell.threshold, mode, tiebreak_seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        acc = train_cell(space, keep, cell.seed, config, device)
    finally:
        torch.set_num_threads(threads)
    return acc, time.perf_counter() - start
