"""Rankings: one global importance vector per feature set and method.

``normlime`` |NormLIME| and ``lime`` |SP-LIME| over local LIME weights (for
pixels, the ExplanationSet's ``local_weights.npz`` when one is given, else
computed on a per-class sample); ``smoothgrad`` / ``vargrad`` the mean of the
per-image maps over a per-class sample (target = true label); ``shap`` the mean
|phi| of Kernel SHAP over a per-class sample against the training mean;
``random`` uniform scores.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from explainers.data import sample_per_class
from explainers.methods import kernel_shap, lime_local, lime_sp, noise_tunnel, normlime, random_importance
from explainers.methods.registry import KAR_METHODS

from .errors import KarError
from .spaces import FeatureSpace

METHODS = KAR_METHODS


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

