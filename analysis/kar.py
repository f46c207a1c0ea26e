"""Keep-And-Retrain (KAR) and Remove-And-Retrain (ROAR): the paper's numerical evaluation.

Plain PyTorch/NumPy and files; no Django, no ORM (``manage.py run_kar`` is the
Django front end, :mod:`analysis.kar_report` writes the table and figures).

What one *cell* (feature set, mode, method, threshold, run) does
-----------------------------------------------------------------
1. The method's global importance over the feature set ranks the features.
   ``kar`` removes the ``threshold`` % least important first (the paper's test),
   ``roar`` the most important first (Hooker et al.'s ROAR, beyond the paper).
2. A removed feature is replaced by its mean over the training set, in the
   training data (every mini-batch, after augmentation) and in the test data.
3. A network is built afresh from the run's seed and trained with the same
   configuration as every other cell of that run; its test accuracy is recorded.
4. Error gain = retrained test error - baseline test error, in percentage
   points (negative when removal helped). The *baseline* is not the checkpoint
   being explained: for each feature set and run it is retrained exactly like a
   cell with 0 % removed (same seed, epochs, data, feature extractor), so a gain
   measures removal and nothing else -- not a difference in training budget.

Feature sets
------------
``pixels``: the 784 input pixels; the retrained model is the whole CNN
(:func:`explainers.model.new_model`), with its random-shift augmentation.
``conv``: the 1,600 outputs of the second convolution block of the explained
checkpoint. That block is frozen: the features of every image are computed
once, and KAR retrains the fully connected part (``make_head(1600)``) from
scratch on the masked features (no augmentation: shifting applies to images).
The model the methods explain there is the checkpoint's own head.

Rankings (global importance, one vector per feature set and method)
-------------------------------------------------------------------
``normlime`` |NormLIME| and ``lime`` |SP-LIME| over local LIME weights (for
pixels, the ExplanationSet's ``local_weights.npz`` when one is given, else
computed on a per-class sample); ``smoothgrad`` / ``vargrad`` the mean of the
per-image maps over a per-class sample (target = true label); ``shap`` the mean
|phi| of Kernel SHAP over a per-class sample against the training mean;
``random`` uniform scores. Noise levels are fractions of the feature set's
range (max - min over the training data), as SmoothGrad defines them: 1 for
pixels, ~6 for the ReLU'd conv features. Ties (NormLIME and LIME give exactly
0 to every feature no local explanation selected) are broken by a seeded random
permutation, not by position, so tied pixels leave in no spatial order.

Determinism and resumption
--------------------------
Every cell trains with one CPU thread (``torch.set_num_threads(1)``), in this
process or in a worker, so results do not depend on ``jobs``: the thread count
changes float rounding, and training amplifies it. Finished cells are appended
to ``results.csv`` at once (flush + fsync); a rerun with the same parameters
(their fingerprint is in ``manifest.json``) skips them. Rankings are cached in
``rankings.npz``.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from explainers.data import sample_per_class
from explainers.files import atomic_savez, atomic_write_json
from explainers.methods import kernel_shap, lime_local, lime_sp, noise_tunnel, normlime, random_importance
from explainers.methods.registry import KAR_METHODS
from explainers.model import TrainConfig, accuracy, make_head, new_model, probabilities, train

logger = logging.getLogger(__name__)

FEATURE_SETS = ("pixels", "conv")
MODES = ("kar", "roar")
METHODS = KAR_METHODS
BASELINE = "baseline"  # the method name of a feature set's 0 %-removed retraining in results.csv

RESULTS = "results.csv"
SUMMARY = "summary.csv"
MANIFEST = "manifest.json"
RANKINGS = "rankings.npz"
FIGURES = {"pixels": "fig5_pixels.png", "conv": "fig6_conv.png"}
OUTPUT_FILES = (RESULTS, SUMMARY, MANIFEST, RANKINGS, *FIGURES.values())
MANIFEST_KIND = "normlime-kar"

RESULT_FIELDS = ("feature_set", "mode", "method", "threshold", "run", "seed", "accuracy", "error_gain", "seconds")
DEFAULT_THRESHOLDS = (10, 50, 90)
PAPER_THRESHOLDS = tuple(range(10, 100, 10))

# The grid presets of ``run_kar``. The defaults finish on the embedded 4,000/1,000 digits within
# 15 minutes on 2 CPU cores (measured: benchmarks/kar_cell.py); --paper is the paper's grid with
# the full training configuration and larger samples for the rankings.
DEFAULT_SETTINGS = {
    "thresholds": DEFAULT_THRESHOLDS,
    "runs": 1,
    "epochs": 10,
    "lime_per_class": 10,
    "lime_samples": 1000,
    "noise_per_class": 10,
    "noise_samples": 100,
    "shap_per_class": 2,
    "shap_samples": 512,
}
PAPER_SETTINGS = {
    "thresholds": PAPER_THRESHOLDS,
    "runs": 5,
    "epochs": TrainConfig.epochs,
    "lime_per_class": 100,
    "lime_samples": 1000,
    "noise_per_class": 10,
    "noise_samples": 100,
    "shap_per_class": 10,
    "shap_samples": 2048,
}


class KarError(Exception):
    """A user-facing problem (bad parameters, a folder holding another run), said in one line."""


# --------------------------------------------------------------------------
# Ranking -> which features go, and how they are blanked
# --------------------------------------------------------------------------


def removal_order(importance, mode: str = "kar", tiebreak_seed: int | None = None) -> np.ndarray:
    """Feature indices in the order they are removed.

    ``kar``: least important first; ``roar``: most important first. Equal scores
    are ordered by a random permutation drawn from ``tiebreak_seed`` (by index
    when it is None).
    """
    scores = np.asarray(importance, dtype=np.float64).reshape(-1)
    if not np.isfinite(scores).all():
        raise ValueError("importance contains NaN or infinite scores")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    key = scores if mode == "kar" else -scores
    d = len(scores)
    tiebreak = np.arange(d) if tiebreak_seed is None else np.random.default_rng(tiebreak_seed).permutation(d)
    return np.lexsort((tiebreak, key))  # the last key is the primary one


def num_removed(num_features: int, threshold: float) -> int:
    """Features removed at ``threshold`` percent, rounded half up (784 at 10 % -> 78)."""
    if not 0 <= threshold < 100:
        raise ValueError(f"threshold must lie in [0, 100) percent (got {threshold})")
    return int(math.floor(num_features * threshold / 100 + 0.5))


def keep_mask(importance, threshold: float, mode: str = "kar", tiebreak_seed: int | None = None) -> np.ndarray:
    """Boolean (d,): True for the features that stay at ``threshold`` percent removed."""
    order = removal_order(importance, mode, tiebreak_seed)
    keep = np.ones(len(order), dtype=bool)
    keep[order[: num_removed(len(order), threshold)]] = False
    return keep


def mean_replace(x, keep, means) -> np.ndarray:
    """A copy of rows ``x`` (n, d) with every removed column set to its training mean."""
    x = np.asarray(x)
    keep = np.asarray(keep, dtype=bool)
    means = np.asarray(means, dtype=x.dtype)
    if keep.shape != (x.shape[1],) or means.shape != (x.shape[1],):
        raise ValueError(f"keep {keep.shape} and means {means.shape} must both be ({x.shape[1]},)")
    return np.where(keep, x, means)


class FeatureMask:
    """The training ``transform``: removed features of a mini-batch -> their training mean."""

    def __init__(self, keep, means, device: str | torch.device = "cpu"):
        self.keep = torch.as_tensor(np.asarray(keep, dtype=bool), device=device)
        self.fill = torch.as_tensor(np.asarray(means), dtype=torch.float32, device=device)

    def __call__(self, xb: torch.Tensor) -> torch.Tensor:
        return torch.where(self.keep, xb, self.fill)


# --------------------------------------------------------------------------
# Feature spaces
# --------------------------------------------------------------------------


def _cnn(num_features: int, seed: int) -> nn.Module:
    if num_features != 784:
        raise ValueError(f"the CNN takes 784 pixels, not {num_features} features")
    return new_model(seed)


def _head(num_features: int, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make_head(num_features)


# The networks a cell can retrain, by name (a name travels to worker processes; a function may not).
ARCHITECTURES: dict[str, Callable[[int, int], nn.Module]] = {"cnn": _cnn, "head": _head}


@dataclass
class FeatureSpace:
    """The data a cell trains and tests on, as CPU float32 tensors, plus the blanking values."""

    name: str
    architecture: str  # a key of ARCHITECTURES
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    means: torch.Tensor = field(init=False)
    scale: float = field(init=False)  # max - min over the training data: the unit of noise levels
    description: str = ""

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r} (known: {', '.join(ARCHITECTURES)})")
        self.x_train = torch.as_tensor(self.x_train, dtype=torch.float32).contiguous()
        self.x_test = torch.as_tensor(self.x_test, dtype=torch.float32).contiguous()
        self.y_train = torch.as_tensor(self.y_train, dtype=torch.int64)
        self.y_test = torch.as_tensor(self.y_test, dtype=torch.int64)
        if self.x_train.ndim != 2 or self.x_test.shape[1:] != self.x_train.shape[1:]:
            raise ValueError(f"x_train {tuple(self.x_train.shape)} and x_test {tuple(self.x_test.shape)} must be (n, d)")
        self.means = self.x_train.double().mean(0).float()  # float64 sums: no drift over 60,000 rows
        self.scale = float(self.x_train.max() - self.x_train.min()) or 1.0

    @property
    def dim(self) -> int:
        return int(self.x_train.shape[1])

    def build_model(self, seed: int) -> nn.Module:
        return ARCHITECTURES[self.architecture](self.dim, seed)


def pixel_space(data) -> FeatureSpace:
    """The 784 input pixels of an :class:`explainers.data.MnistData`."""
    return FeatureSpace(
        "pixels", "cnn", data.x_train, data.y_train, data.x_test, data.y_test,
        description="784 input pixels; retrains the whole CNN (random-shift augmentation as in training)",
    )


@torch.no_grad()
def conv_features(model: nn.Module, x, batch_size: int = 1000) -> torch.Tensor:
    """Outputs of the checkpoint's second convolution block, flattened: (n, 1600), on the CPU."""
    device = next(model.parameters()).device
    x = torch.as_tensor(x, dtype=torch.float32)
    model.eval()
    parts = [model.features(x[i : i + batch_size].to(device).reshape(-1, 1, 28, 28)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(parts) if parts else torch.zeros(0, model.head[0].in_features)


def conv_space(data, model: nn.Module, batch_size: int = 1000) -> FeatureSpace:
    """The frozen conv features of ``model`` (the explained checkpoint) for every image."""
    return FeatureSpace(
        "conv", "head", conv_features(model, data.x_train, batch_size), data.y_train,
        conv_features(model, data.x_test, batch_size), data.y_test,
        description="1600 outputs of the checkpoint's 2nd conv block (frozen); retrains make_head(1600) from scratch",
    )


def explained_models(checkpoint: nn.Module) -> dict[str, nn.Module]:
    """f per feature set: softmax of the whole CNN on pixels, of its head on conv features."""
    return {"pixels": probabilities(checkpoint), "conv": probabilities(checkpoint.head)}


# --------------------------------------------------------------------------
# Rankings
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingConfig:
    """How the global rankings are computed (noise levels in units of the feature range)."""

    lime_per_class: int = 50  # local explanations per class, when none are given
    lime_samples: int = 1000
    lime_features: int = 20  # K
    lime_sigma: float = 0.25
    noise_per_class: int = 10  # paper: 10 images per class
    noise_samples: int = 100  # paper: 100
    noise_sigma: float = 0.3  # paper: 0.3
    shap_per_class: int = 5
    shap_samples: int = 2048
    batch_size: int = 500


@dataclass
class LocalWeights:
    """Local LIME explanations computed elsewhere (an ExplanationSet's local_weights.npz)."""

    W: np.ndarray  # (n, d)
    source: dict  # JSON-able provenance: name, path, sha256


class _RankingContext:
    """What the rankers of one feature set share: data, f, and results computed once for two methods."""

    def __init__(self, space: FeatureSpace, model: nn.Module, config: RankingConfig, seed: int,
                 local_weights: LocalWeights | None, progress: Callable[[int, int], None] | None):
        self.space, self.model, self.config, self.seed = space, model, config, seed
        self.local_weights = local_weights
        self.progress = progress
        self._lime: tuple[np.ndarray, dict] | None = None
        self._tunnel = None

    def sample(self, per_class: int) -> np.ndarray:
        return sample_per_class(self.space.y_train.numpy(), per_class, self.seed)

    def rows(self, idx: np.ndarray) -> torch.Tensor:
        """Training rows ``idx`` on the explained model's device (the explainers keep a tensor's device)."""
        device = next((p.device for p in self.model.parameters()), torch.device("cpu"))
        return self.space.x_train[idx].to(device)

    def tick(self, total: int):
        done = 0

        def update(k: int) -> None:
            nonlocal done
            done += k
            if self.progress is not None:
                self.progress(done, total)

        return update

    def lime_weights(self) -> tuple[np.ndarray, dict]:
        if self._lime is None:
            if self.local_weights is not None:
                W = np.asarray(self.local_weights.W, dtype=np.float64)
                if W.ndim != 2 or W.shape[1] != self.space.dim:
                    raise KarError(f"local weights of shape {W.shape} do not fit the {self.space.dim} {self.space.name} features")
                self._lime = (W, {"local_weights": self.local_weights.source, "explanations": len(W)})
            else:
                c = self.config
                idx = self.sample(c.lime_per_class)
                W = lime_local(
                    self.model, self.rows(idx), None, num_samples=c.lime_samples,
                    sigma=c.lime_sigma * self.space.scale, num_features=c.lime_features,
                    batch_size=c.batch_size, seed=self.seed, instance_ids=idx, progress=self.tick(len(idx)),
                )
                self._lime = (W, {
                    "computed": "lime_local on a per-class sample of training images, target = predicted class",
                    "explanations": len(idx), "per_class": c.lime_per_class, "num_samples": c.lime_samples,
                    "num_features": c.lime_features, "sigma": c.lime_sigma * self.space.scale, "seed": self.seed,
                })
        return self._lime

    def tunnel(self):
        if self._tunnel is None:
            c = self.config
            idx = self.sample(c.noise_per_class)
            maps = noise_tunnel(
                self.model, self.rows(idx), self.space.y_train[idx], num_samples=c.noise_samples,
                sigma=c.noise_sigma * self.space.scale, batch_size=c.batch_size, seed=self.seed,
                instance_ids=idx, progress=self.tick(len(idx)),
            )
            self._tunnel = (maps, {
                "computed": "mean over a per-class sample of training images of the per-image maps, target = label",
                "images": len(idx), "num_samples": c.noise_samples, "sigma": c.noise_sigma * self.space.scale,
                "seed": self.seed,
            })
        return self._tunnel


def _rank_normlime(ctx: _RankingContext):
    W, source = ctx.lime_weights()
    return np.abs(normlime(W)), {"method": "|NormLIME| (Eq. 5) over local LIME weights", **source}


def _rank_lime(ctx: _RankingContext):
    W, source = ctx.lime_weights()
    return np.abs(lime_sp(W)), {"method": "|SP-LIME| column norm (Eq. 6) over local LIME weights", **source}


def _rank_smoothgrad(ctx: _RankingContext):
    maps, source = ctx.tunnel()
    return maps.smoothgrad_sq.mean(0), {"method": "SmoothGrad-squared", **source}


def _rank_vargrad(ctx: _RankingContext):
    maps, source = ctx.tunnel()
    return maps.vargrad.mean(0), {"method": "VarGrad", **source}


def _rank_shap(ctx: _RankingContext):
    c = ctx.config
    idx = ctx.sample(c.shap_per_class)
    phi = kernel_shap(
        ctx.model, ctx.rows(idx), ctx.space.y_train[idx], num_samples=c.shap_samples,
        background=ctx.space.means[None], batch_size=max(c.batch_size, 1000), seed=ctx.seed,
        instance_ids=idx, progress=ctx.tick(len(idx)),
        allow_underdetermined=True,  # KAR's budgets are too small for its 784/1,600 features: issue 11 fixes them
    )
    return np.abs(phi).mean(0), {
        "method": "mean |phi| of Kernel SHAP, background = training mean, target = label",
        "images": len(idx), "num_samples": c.shap_samples, "seed": ctx.seed,
    }


def _rank_random(ctx: _RankingContext):
    return random_importance(ctx.space.dim, ctx.seed), {"method": "uniform random scores", "seed": ctx.seed}


RANKERS: dict[str, Callable[[_RankingContext], tuple[np.ndarray, dict]]] = {
    "normlime": _rank_normlime,
    "lime": _rank_lime,
    "smoothgrad": _rank_smoothgrad,
    "vargrad": _rank_vargrad,
    "shap": _rank_shap,
    "random": _rank_random,
}
assert set(RANKERS) == set(METHODS)


def ranking_key(feature_set: str, method: str) -> str:
    return f"{feature_set}/{method}"


def compute_rankings(
    spaces: dict[str, FeatureSpace],
    models: dict[str, nn.Module],
    methods: Iterable[str],
    *,
    config: RankingConfig,
    seed: int,
    local_weights: dict[str, LocalWeights] | None = None,
    cache: dict[str, np.ndarray] | None = None,
    on_ranking: Callable[[str, np.ndarray, dict], None] | None = None,
    progress_factory: Callable[[str], Callable[[int, int], None] | None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """Global importance per ``feature_set/method``; keys already in ``cache`` are reused.

    ``on_ranking(key, importance, source)`` is called after each new ranking
    (the runner saves it there, so an interruption keeps what was done).
    """
    rankings: dict[str, np.ndarray] = {}
    sources: dict[str, dict] = {}
    cache = cache or {}
    for name, space in spaces.items():
        ctx = _RankingContext(space, models.get(name), config, seed, (local_weights or {}).get(name), None)
        for method in methods:
            key = ranking_key(name, method)
            if key in cache:
                rankings[key] = np.asarray(cache[key], dtype=np.float64)
                continue
            ctx.progress = progress_factory(key) if progress_factory else None
            start = time.perf_counter()
            importance, source = RANKERS[method](ctx)
            importance = np.asarray(importance, dtype=np.float64).reshape(-1)
            if importance.shape != (space.dim,) or not np.isfinite(importance).all():
                raise RuntimeError(f"{key}: ranking of shape {importance.shape} or not finite")
            source = {**source, "seconds": round(time.perf_counter() - start, 2)}
            rankings[key], sources[key] = importance, source
            if on_ranking is not None:
                on_ranking(key, importance, source)
    return rankings, sources


# --------------------------------------------------------------------------
# One cell
# --------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Cell:
    feature_set: str
    method: str  # one of METHODS, or BASELINE
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
    def key(self) -> tuple[str, str, str, int, int]:
        return (self.feature_set, self.mode, self.method, self.threshold, self.run)

    def csv_row(self) -> list[str]:
        return [self.feature_set, self.mode, self.method, str(self.threshold), str(self.run), str(self.seed),
                f"{self.accuracy:.6f}", f"{self.error_gain:.4f}", f"{self.seconds:.2f}"]

    @classmethod
    def from_csv(cls, row: dict[str, str]) -> "Result":
        return cls(row["feature_set"], row["mode"], row["method"], int(row["threshold"]), int(row["run"]),
                   int(row["seed"]), float(row["accuracy"]), float(row["error_gain"]), float(row["seconds"]))


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
    if mask is not None and not (config.shift and space.dim == 784):
        # No augmentation touches these rows (train() shifts 784-wide images only), so blanking
        # the whole set once gives the very same batches as blanking each one, for less work.
        x_train, transform = FeatureMask(keep, space.means)(space.x_train), None
    train(model, x_train, space.y_train, config=config, seed=seed, device=device, transform=transform)
    x_test = space.x_test if mask is None else mask(space.x_test.to(device))
    return accuracy(model, x_test, space.y_test.numpy())


def run_cell(space: FeatureSpace, importance: np.ndarray | None, cell: Cell, *, mode: str, config: TrainConfig,
             device: str | torch.device = "cpu", tiebreak_seed: int | None = None) -> tuple[float, float]:
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


# Worker processes: state set once by the pool initializer, then small Cell messages.
_WORKER: dict = {}


def _init_worker(state: dict) -> None:
    torch.set_num_threads(1)
    _WORKER.clear()
    _WORKER.update(state)


def _work(cell: Cell) -> tuple[Cell, float, float]:
    w = _WORKER
    importance = None if cell.is_baseline else w["rankings"][ranking_key(cell.feature_set, cell.method)]
    acc, seconds = run_cell(w["spaces"][cell.feature_set], importance, cell, mode=w["mode"], config=w["config"],
                            device=w["device"], tiebreak_seed=w["tiebreak_seed"])
    return cell, acc, seconds


# --------------------------------------------------------------------------
# The grid, its parameters and the output folder
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class KarSpec:
    """Everything that decides the numbers of a run (device and jobs do not)."""

    feature_sets: tuple[str, ...] = FEATURE_SETS
    methods: tuple[str, ...] = METHODS
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    runs: int = 1
    seed: int = 0
    mode: str = "kar"
    train: TrainConfig = field(default_factory=TrainConfig)
    ranking: RankingConfig = field(default_factory=RankingConfig)

    @classmethod
    def preset(cls, paper: bool = False, **overrides) -> "KarSpec":
        """The default grid (or ``paper``'s) with ``overrides`` (KarSpec fields or the settings' keys)."""
        values = {**(PAPER_SETTINGS if paper else DEFAULT_SETTINGS)}
        values.update({k: v for k, v in overrides.items() if k in values})
        ranking_keys = {f.name for f in fields(RankingConfig)}
        ranking = replace(overrides.get("ranking", RankingConfig()), **{k: v for k, v in values.items() if k in ranking_keys})
        rest = {k: v for k, v in overrides.items() if k not in values and k != "ranking"}
        return cls(thresholds=tuple(values["thresholds"]), runs=values["runs"],
                   train=TrainConfig(epochs=values["epochs"]), ranking=ranking, **rest)

    def __post_init__(self):
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise KarError(f"unknown method {unknown[0]!r} (choose from {', '.join(METHODS)})")
        bad = [t for t in self.thresholds if not (isinstance(t, int) and 1 <= t <= 99)]
        if bad:
            raise KarError(f"threshold {bad[0]!r} is outside 1-99 (percent of features removed)")
        if self.mode not in MODES:
            raise KarError(f"unknown mode {self.mode!r} (choose from {', '.join(MODES)})")
        if self.runs < 1:
            raise KarError(f"runs must be at least 1 (got {self.runs})")
        if not self.feature_sets or not self.methods or not self.thresholds:
            raise KarError("feature sets, methods and thresholds must each name at least one value")

    def run_seed(self, run: int) -> int:
        """Run 1 trains with ``seed`` itself, run r with seed + r - 1."""
        return self.seed + run - 1

    def cells(self) -> list[Cell]:
        """Baselines first (every gain needs one), then run by run so early runs complete early."""
        baselines = [Cell(fs, BASELINE, 0, r, self.run_seed(r)) for r in range(1, self.runs + 1) for fs in self.feature_sets]
        rest = [
            Cell(fs, m, t, r, self.run_seed(r))
            for r in range(1, self.runs + 1)
            for fs in self.feature_sets
            for m in self.methods
            for t in self.thresholds
        ]
        return baselines + rest

    def parameters(self) -> dict:
        return {
            "feature_sets": list(self.feature_sets),
            "methods": list(self.methods),
            "thresholds": list(self.thresholds),
            "runs": self.runs,
            "seed": self.seed,
            "mode": self.mode,
            "train": asdict(self.train),
            "ranking": asdict(self.ranking),
            "tiebreak": "seeded random permutation (seed = --seed)",
            "threads_per_cell": 1,
        }


def fingerprint(parameters: dict) -> str:
    blob = json.dumps(parameters, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} {json.dumps(a, default=str)} -> {json.dumps(b, default=str)}")
    return out


def read_manifest(out_dir: str | Path) -> dict | None:
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json_atomic(path: Path, obj) -> None:
    atomic_write_json(path, obj, default=str)


def prepare_out_dir(out_dir: str | Path, parameters: dict, *, restart: bool = False) -> dict | None:
    """Make ``out_dir`` ready for a run with ``parameters``; returns the manifest of a run to resume.

    Refuses (KarError) a folder that holds a run with other parameters, or
    results without a manifest, unless ``restart`` (which deletes the run's files only).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise KarError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    if restart:
        for name in OUTPUT_FILES:
            (out / name).unlink(missing_ok=True)
        return None
    manifest = read_manifest(out)
    if manifest is None:
        if (out / RESULTS).exists():
            raise KarError(f"{out}: holds {RESULTS} but no readable {MANIFEST}; pass --restart to replace it or choose another --out")
        (out / RANKINGS).unlink(missing_ok=True)  # rankings without a manifest cannot be trusted
        return None
    if manifest.get("fingerprint") != fingerprint(parameters):
        diff = _differences(manifest.get("parameters", {}), parameters)
        shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
        raise KarError(
            f"{out}: holds a KAR run with other parameters ({shown or 'unreadable fingerprint'}); "
            "pass --restart to replace it or choose another --out"
        )
    return manifest


class ResultsLog:
    """results.csv, appended one durable line per finished cell."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self) -> list[Result]:
        """The rows on disk; a torn last line (a crash mid-write) is dropped and cut off the file."""
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        if not lines or lines[0].strip() != ",".join(RESULT_FIELDS):
            raise KarError(f"{self.path}: not a KAR results file (header {lines[0].strip() if lines else 'missing'!r})")
        rows, good = [], len(lines[0].encode())
        for line in lines[1:]:
            try:
                if not line.endswith("\n"):
                    raise ValueError("torn line")
                values = next(csv.reader([line]))
                rows.append(Result.from_csv(dict(zip(RESULT_FIELDS, values, strict=True))))
                good += len(line.encode())
            except (ValueError, KeyError, StopIteration):
                logger.warning("%s: dropping an unreadable line %r", self.path, line[:80])
                break
        if good < len(text.encode()):
            with open(self.path, "r+b") as f:
                f.truncate(good)
        return rows

    def append(self, result: Result) -> None:
        new = not self.path.exists() or self.path.stat().st_size == 0
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if new:
            writer.writerow(RESULT_FIELDS)
        writer.writerow(result.csv_row())
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())

    def rewrite(self, results: list[Result]) -> None:
        """Replace the file atomically with ``results`` in this order (used once a run is complete)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(RESULT_FIELDS)
        for r in results:
            writer.writerow(r.csv_row())
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def load_rankings_cache(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError):
        logger.warning("%s is unreadable; recomputing the rankings", path)
        return {}


def save_rankings_cache(path: Path, rankings: dict[str, np.ndarray]) -> None:
    atomic_savez(path, **rankings)


# --------------------------------------------------------------------------
# Running the grid
# --------------------------------------------------------------------------


@dataclass
class KarOutcome:
    out_dir: Path
    results: list[Result]  # every finished cell of this run, in grid order
    ran: int  # cells computed by this call
    skipped: int  # cells found in results.csv
    expected: int
    seconds: float
    manifest: dict

    @property
    def complete(self) -> bool:
        return len(self.results) == self.expected


class _Eta:
    """Time left, from the mean seconds of finished cells of each feature set (their costs differ ~20x)."""

    def __init__(self, pending: list[Cell], previous: list[Result], jobs: int):
        self.left = {fs: sum(1 for c in pending if c.feature_set == fs) for fs in {c.feature_set for c in pending}}
        self.seconds: dict[str, list[float]] = {}
        for r in previous:
            self.seconds.setdefault(r.feature_set, []).append(r.seconds)
        self.jobs = jobs

    def done(self, cell: Cell, seconds: float) -> None:
        self.left[cell.feature_set] -= 1
        self.seconds.setdefault(cell.feature_set, []).append(seconds)

    def remaining(self) -> float | None:
        total = 0.0
        for fs, n in self.left.items():
            if n and not self.seconds.get(fs):
                return None
            if n:
                total += n * float(np.mean(self.seconds[fs]))
        cells = sum(self.left.values())
        return total / max(1, min(self.jobs, cells))


def run_kar(
    spec: KarSpec,
    spaces: dict[str, FeatureSpace],
    models: dict[str, nn.Module],
    out_dir: str | Path,
    *,
    inputs: dict,
    local_weights: dict[str, LocalWeights] | None = None,
    device: str | torch.device = "cpu",
    jobs: int = 1,
    restart: bool = False,
    progress: bool = True,
    on_cell: Callable[[Result], None] | None = None,
    manifest_extra: dict | None = None,
) -> KarOutcome:
    """Run (or resume) the whole grid of ``spec`` into ``out_dir``.

    ``inputs`` is the provenance that decides the numbers besides ``spec``
    (model checksum, data, source of local weights); it is fingerprinted with
    the spec. ``models`` are the explained models per feature set (rankings).
    ``on_cell(result)`` runs after each row is saved; an exception there stops
    the run (the rows written so far stay).
    """
    from tqdm import tqdm

    started = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out = Path(out_dir)
    missing = [fs for fs in spec.feature_sets if fs not in spaces]
    if missing:
        raise KarError(f"no feature space named {missing[0]!r}")
    parameters = {**spec.parameters(), "inputs": inputs}
    previous = prepare_out_dir(out, parameters, restart=restart)
    cells = spec.cells()
    manifest = {
        "kind": MANIFEST_KIND,
        "fingerprint": fingerprint(parameters),
        "parameters": parameters,
        "feature_spaces": {fs: {"features": spaces[fs].dim, "train": len(spaces[fs].y_train), "test": len(spaces[fs].y_test),
                                 "description": spaces[fs].description, "feature_range": spaces[fs].scale}
                           for fs in spec.feature_sets},
        "expected_cells": len(cells),
        "rankings": (previous or {}).get("rankings", {}),
        "sessions": (previous or {}).get("sessions", []),
        "created": (previous or {}).get("created", started_at),
        **(manifest_extra or {}),
    }
    session = {"started": started_at, "device": str(device), "jobs": jobs, "status": "running"}
    manifest["sessions"].append(session)
    manifest_path = out / MANIFEST
    write_json_atomic(manifest_path, manifest)

    # Rankings: cached ones reused, new ones saved one by one.
    cache_path = out / RANKINGS
    cache = load_rankings_cache(cache_path) if previous is not None else {}
    cache = {k: v for k, v in cache.items() if k in manifest["rankings"]}
    bars: dict[str, tqdm] = {}

    def progress_factory(key: str):
        if not progress:
            return None

        def update(done: int, total: int) -> None:
            bar = bars.get(key) or bars.setdefault(key, tqdm(total=total, desc=f"ranking {key}", unit="img", leave=False))
            bar.update(done - bar.n)

        return update

    def on_ranking(key: str, importance: np.ndarray, source: dict) -> None:
        cache[key] = importance
        manifest["rankings"][key] = source
        save_rankings_cache(cache_path, cache)
        write_json_atomic(manifest_path, manifest)
        if key in bars:
            bars.pop(key).close()
        logger.info("ranked %s in %.1f s", key, source["seconds"])

    t0 = time.perf_counter()
    try:
        rankings, _ = compute_rankings(
            {fs: spaces[fs] for fs in spec.feature_sets}, models, spec.methods, config=spec.ranking, seed=spec.seed,
            local_weights=local_weights, cache=cache, on_ranking=on_ranking, progress_factory=progress_factory,
        )
    finally:
        for bar in bars.values():
            bar.close()
    session["rankings_seconds"] = round(time.perf_counter() - t0, 2)

    # Cells.
    log = ResultsLog(out / RESULTS)
    done = {r.key: r for r in log.read()} if previous is not None else {}
    if previous is None:
        (out / RESULTS).unlink(missing_ok=True)
    pending = [c for c in cells if (c.feature_set, spec.mode, c.method, c.threshold, c.run) not in done]
    baselines = {(r.feature_set, r.run): r.accuracy for r in done.values() if r.method == BASELINE}
    held: dict[tuple[str, int], list[tuple[Cell, float, float]]] = {}
    eta = _Eta(pending, list(done.values()), jobs)
    ran = 0
    bar = tqdm(total=len(pending), desc=f"{spec.mode.upper()} cells", unit="cell", disable=not progress,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} cells [{elapsed}{postfix}]")
    bar.set_postfix_str("ETA after the first cells")

    def write(cell: Cell, acc: float, seconds: float) -> None:
        nonlocal ran
        acc = round(acc, 6)  # as written to results.csv, so a resumed run's gains match to the digit
        base = baselines[(cell.feature_set, cell.run)]
        result = Result(cell.feature_set, spec.mode, cell.method, cell.threshold, cell.run, cell.seed, acc,
                        0.0 if cell.is_baseline else (base - acc) * 100.0, seconds)
        log.append(result)
        done[result.key] = result
        ran += 1
        eta.done(cell, seconds)
        left = eta.remaining()
        bar.set_postfix_str(f"ETA {tqdm.format_interval(left)}" if left is not None else "ETA after the first cells")
        bar.update(1)
        if on_cell is not None:
            on_cell(result)

    def finished(cell: Cell, acc: float, seconds: float) -> None:
        group = (cell.feature_set, cell.run)
        if cell.is_baseline:
            baselines[group] = round(acc, 6)
            write(cell, acc, seconds)
            for item in held.pop(group, []):
                write(*item)
        elif group in baselines:
            write(cell, acc, seconds)
        else:  # with several jobs a cell can finish before its baseline; it waits in memory
            held.setdefault(group, []).append((cell, acc, seconds))

    state = {
        "spaces": {fs: spaces[fs] for fs in spec.feature_sets},
        "rankings": rankings,
        "mode": spec.mode,
        "config": spec.train,
        "device": str(device),
        "tiebreak_seed": spec.seed,
    }
    t0 = time.perf_counter()
    status = "interrupted"
    try:
        if jobs <= 1 or len(pending) <= 1:
            for cell in pending:
                importance = None if cell.is_baseline else rankings[ranking_key(cell.feature_set, cell.method)]
                finished(cell, *run_cell(spaces[cell.feature_set], importance, cell, mode=spec.mode, config=spec.train,
                                         device=device, tiebreak_seed=spec.seed))
        else:
            import torch.multiprocessing as tmp

            ctx = tmp.get_context("spawn")  # fork would share torch's thread pools and CUDA state
            with ctx.Pool(min(jobs, len(pending)), initializer=_init_worker, initargs=(state,)) as pool:
                for cell, acc, seconds in pool.imap_unordered(_work, pending, chunksize=1):
                    finished(cell, acc, seconds)
        status = "complete" if len(done) == len(cells) else "incomplete"
    finally:
        bar.close()
        order = {(c.feature_set, spec.mode, c.method, c.threshold, c.run): i for i, c in enumerate(cells)}
        results = sorted(done.values(), key=lambda r: order.get(r.key, len(order)))
        if status == "complete":
            log.rewrite(results)  # canonical grid order, whatever order the jobs finished in
        session.update(
            status=status,
            finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            cells_run=ran,
            cells_seconds=round(time.perf_counter() - t0, 2),
            seconds=round(time.perf_counter() - started, 2),
        )
        manifest["cells_done"] = len(done)
        manifest["timings"] = {
            "rankings_seconds": round(sum(s.get("seconds", 0) for s in manifest["rankings"].values()), 2),
            "cell_seconds_sum": round(sum(r.seconds for r in done.values()), 2),
            "wall_seconds": round(sum(s.get("seconds", 0) for s in manifest["sessions"]), 2),
        }
        write_json_atomic(manifest_path, manifest)
    return KarOutcome(out, results, ran, len(cells) - len(pending), len(cells), time.perf_counter() - started, manifest)
