"""Rankings: one global importance vector per feature set, method and run, all from the same images.

Comparable by construction: within a feature space and a run, every method
explains the same ``per_class`` training images of each of the data set's
classes (the space's ``n_classes``), chosen by true label with the run's seed,
with the true label as the target; the global importance is the mean absolute
per-image attribution (for NormLIME and LIME, the paper's global aggregate of
the local LIME weights, Eq. 5 and Eq. 6, in absolute value).

Drawn per run: run r draws its own images (seed + r - 1, the seed its cells
train with), so the spread of a cell over runs covers the ranking's own
variance, not only the retraining's. Random scores and tie-breaks are drawn
per run too (:func:`cell_importance`).

The rankers derive from the method registry: KAR ranks with the methods that
opt in (``registry.names(kar=True)``), plus KAR's own variants
(:mod:`kar.core.rankers`: standardised LIME weights, LIME on log-probabilities,
feature variance). A method's
:class:`~explainers.methods.registry.Source` says how its scores are made, its
``kar_call`` (``kar_function`` and ``kar_options``, else ``function`` and
``options``) what is called, through ``registry.resolve``. KAR changes two
things, both for the feature spaces' sake:

- Kernel SHAP runs per feature (every feature a player: 784 pixels or 1,600
  conv features for MNIST, not the gallery's 2x2 patches) with shap's budget of
  2d + 2,048 coalitions, so its least squares are determined; an
  underdetermined budget is an error, never a silent fallback.
- Noise is in each feature's own units. In pixel space the unit is the pixel
  range (1), as SmoothGrad defines sigma; in conv space it is each feature's
  standard deviation over the training rows (as lime's tabular explainer
  scales its noise). The methods run on standardised inputs z = x / unit
  through a model that multiplies the unit back, and the attributions are
  converted back to the feature's units exactly (a gradient by 1 / unit, a
  LIME weight by 1 / unit).

Arithmetic: LIME weights, their aggregates and the means over images are
float64; what still differs between CPUs is the float32 forward passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explainers.data import sample_per_class
from explainers.methods import registry
from explainers.methods.lime import DEFAULT_FEATURES, DEFAULT_SAMPLES, DEFAULT_SIGMA
from explainers.methods.registry import Source
from explainers.methods.shap import EXTRA_SAMPLES as SHAP_EXTRA_SAMPLES
from explainers.methods.shap import UnderdeterminedError, recommended_samples

from . import rankers
from .errors import KarError
from .spaces import FeatureSpace

# Kernel SHAP's budget for d players, shap's rule 2d + 2048, is the explainer's own.
shap_budget = recommended_samples

_NOISE = registry.get("smoothgrad").options  # the paper's SmoothGrad settings, shared by VarGrad


@dataclass(frozen=True)
class RankingConfig:
    """How the global rankings are computed (noise levels in units of each feature, see the module doc)."""

    per_class: int = 10  # training images per class, by true label, explained by every method
    lime_samples: int = DEFAULT_SAMPLES  # LIME's defaults (explainers.methods.lime), as generation's
    lime_features: int = DEFAULT_FEATURES  # K for pixels
    lime_features_conv: int = 200  # K for conv features: enough selections that few features go unranked
    lime_sigma: float = DEFAULT_SIGMA
    noise_samples: int = int(_NOISE["num_samples"])
    noise_sigma: float = float(_NOISE["sigma"])
    shap_samples: int | None = None  # None: shap_budget(d); fewer than d/2 + 1 is refused
    ig_steps: int = int(registry.get("ig").options.get("steps", 64))
    batch_size: int = 500


class _Units(nn.Module):
    """f(z * unit): the explained model on standardised inputs (noise of sigma in z = sigma * unit in x)."""

    def __init__(self, model: nn.Module, unit: torch.Tensor):
        super().__init__()
        self.model = model
        self.register_buffer("unit", unit)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z.reshape(len(z), -1) * self.unit)


class _RankingContext:
    """What the rankers of one feature set share: the images, f, and results computed once for two methods."""

    def __init__(
        self,
        space: FeatureSpace,
        model: nn.Module,
        config: RankingConfig,
        seed: int,
        progress: Callable[[int, int], None] | None,
    ):
        self.space, self.model, self.config, self.seed = space, model, config, seed
        self.progress = progress
        self.idx = sample_per_class(space.y_train.numpy(), config.per_class, seed, space.n_classes)
        # no model: the variance baseline needs none
        params = model.parameters() if model is not None else iter(())
        self.device = next((p.device for p in params), torch.device("cpu"))
        unit = space.noise_unit.to(torch.float64)
        # A feature constant over the training rows (a dead ReLU) gets a vanishing unit: no noise there.
        floor = 1e-6 * float(unit.max()) if float(unit.max()) > 0 else 1.0
        self.unit = torch.where(unit > 0, unit, torch.full_like(unit, floor))
        self.uniform = bool(torch.all(self.unit == self.unit[0]))
        self._memo: dict[str, tuple[object, dict]] = {}

    @property
    def targets(self) -> torch.Tensor:
        return self.space.y_train[self.idx].to(self.device)

    def rows(self) -> torch.Tensor:
        return self.space.x_train[self.idx].to(self.device)

    def tick(self, total: int):
        done = 0

        def update(k: int) -> None:
            nonlocal done
            done += k
            if self.progress is not None:
                self.progress(done, total)

        return update

    def noisy(self, sigma: float, model: nn.Module | None = None) -> tuple[nn.Module, torch.Tensor, float, np.ndarray]:
        """(model, inputs, sigma, unit) for a noise-based method: sigma in each feature's unit.

        ``model`` replaces the space's explained model (LIME on log-probabilities)."""
        model = self.model if model is None else model
        unit = self.unit.numpy()
        if self.uniform:  # pixels: plain inputs, sigma in pixel units (bit-identical to the unscaled method)
            return model, self.rows(), sigma * float(unit[0]), np.ones_like(unit)
        u = self.unit.to(torch.float32).to(self.device)
        return _Units(model, u).eval(), self.rows() / u, sigma, unit

    def memo(self, key: str, compute: Callable[[], tuple[object, dict]]) -> tuple[object, dict]:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def images(self) -> dict:
        return {
            "images": len(self.idx),
            "per_class": self.config.per_class,
            "chosen_by": "true label",
            "target": "true label",
            "seed": self.seed,
        }


class LogProbabilities(nn.Module):
    """log f(x): the log-probabilities of a :class:`explainers.model.Softmax` model (log_softmax of its
    logits, exact where the softmax saturates), or the log of another model's probabilities."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from explainers.model import Softmax

        if isinstance(self.model, Softmax):
            return torch.log_softmax(self.model.model(x).float(), dim=1)
        return torch.log(self.model(x).float().clamp_min(torch.finfo(torch.float32).tiny))


#: What LIME's surrogate is fitted to: the target's probability (the paper) or its log-probability.
TARGETS = ("prob", "logp")


def _lime_weights(ctx: _RankingContext, target: str = "prob") -> tuple[np.ndarray, dict]:
    """The local LIME weights of the shared images, (n, d) float64 in the features' units."""
    from explainers.methods import lime_local

    def compute():
        c = ctx.config
        k = c.lime_features if ctx.uniform else c.lime_features_conv
        explained = LogProbabilities(ctx.model).eval() if target == "logp" else None
        model, x, sigma, unit = ctx.noisy(c.lime_sigma, explained)
        W = lime_local(
            model,
            x,
            ctx.targets,
            num_samples=c.lime_samples,
            sigma=sigma,
            num_features=k,
            batch_size=c.batch_size,
            seed=ctx.seed,
            instance_ids=ctx.idx,
            progress=ctx.tick(len(ctx.idx)),
        )
        dead = ctx.space.noise_unit.numpy() <= 0
        W = np.asarray(W, dtype=np.float64) / unit  # a weight per unit of z is (1 / unit) per unit of x
        W[:, dead] = 0.0  # no variation in the training data: no evidence either way
        never = int(np.sum(~np.any(W != 0, axis=0)))
        return W, {
            **ctx.images(),
            "explanations": len(W),
            "num_samples": c.lime_samples,
            "num_features": k,
            "sigma": c.lime_sigma,
            "noise_unit": ctx.space.noise_unit_name,
            "never_selected": never,
            "fitted_to": "log p(target)" if target == "logp" else "p(target)",
        }

    return ctx.memo(f"lime-{target}", compute)


#: Data-derived inputs a registry entry may name (``Method.inputs``), made in a feature space:
#: the names of generation's ``DATA_INPUTS``, for feature vectors instead of MNIST images.
SPACE_INPUTS: dict[str, Callable[[FeatureSpace], object]] = {
    "train_mean": lambda space: space.means[None],  # the training rows' mean (float64 sums)
    "black": lambda space: np.zeros(space.dim),  # zeros: a black image, or silent conv features
}


def kar_options(method: registry.Method, config: RankingConfig, dim: int) -> dict:
    """The keyword values of KAR's call of ``method`` in a space of ``dim`` features: the registry's, with run_kar's settings.

    Methods that add noise (a ``sigma`` option) take ``noise_samples`` and ``noise_sigma``
    (in each feature's unit); another method's sampling budget (``num_samples``) is
    ``shap_samples``, else shap's rule for ``dim`` players (2d + 2048); a path
    integral's ``steps`` take ``ig_steps``.
    """
    _, options = method.kar_call
    options = dict(options)
    if "sigma" in options:
        options.update(num_samples=config.noise_samples, sigma=config.noise_sigma)
    elif "num_samples" in options:
        options["num_samples"] = config.shap_samples or shap_budget(dim)
    if "steps" in options:
        options["steps"] = config.ig_steps
    return options


def _per_image(ctx: _RankingContext, method: registry.Method) -> tuple[np.ndarray, dict]:
    """Per-image attributions of the shared images by ``method``'s KAR call, in the feature's units.

    Methods whose calls agree (generation's :func:`~explainers.methods.registry.call_key`)
    share one call, as SmoothGrad² and VarGrad share one noise tunnel.
    """
    c = ctx.config
    function, _ = method.kar_call
    options = kar_options(method, c, ctx.space.dim)
    unknown = [source for source in method.inputs.values() if source not in SPACE_INPUTS]
    if unknown:
        raise KarError(
            f"{method.name}: KAR cannot make the input {unknown[0]!r} in a feature space "
            f"(known: {', '.join(SPACE_INPUTS)})"
        )

    def attribute():
        call = dict(options)
        # rows per pass: at least what the method asks for in KAR (forward-only calls take larger batches)
        batch_size = max(c.batch_size, int(call.pop("batch_size", 0)))
        noisy = "sigma" in call
        if noisy:
            model, x, call["sigma"], unit = ctx.noisy(call["sigma"])
        else:
            model, x, unit = ctx.model, ctx.rows(), None
        inputs = {keyword: SPACE_INPUTS[source](ctx.space) for keyword, source in method.inputs.items()}
        try:
            result = registry.resolve(function)(
                model,
                x,
                ctx.targets,
                **call,
                **inputs,
                batch_size=batch_size,
                seed=ctx.seed,
                instance_ids=ctx.idx,
                progress=ctx.tick(len(ctx.idx)),
            )
        except UnderdeterminedError as exc:
            raise KarError(
                f"{method.label}: {exc.num_samples} coalitions cannot determine {exc.players} Shapley "
                f"values; use --shap-samples {exc.needed} (2d + {SHAP_EXTRA_SAMPLES}) or more"
            ) from None
        described = {k: v for k, v in options.items() if k != "batch_size"}
        if noisy:
            described["noise_unit"] = ctx.space.noise_unit_name
        return (result, unit), {**ctx.images(), "function": function, **described, **dict(method.inputs)}

    (result, unit), source = ctx.memo(registry.call_key(function, options, method.inputs), attribute)
    values = getattr(result, method.output) if method.output else result
    if unit is not None:  # d/dx = (1/unit) d/dz, to the method's power
        values = values / unit**method.unit_power
    return values, source


def _rank_variant(ctx: _RankingContext, variant: rankers.Variant) -> tuple[np.ndarray, dict]:
    sd = ctx.space.x_train.double().std(0, unbiased=False).numpy()
    if variant.base is None:  # the variance baseline: no model
        return sd**2, {"method": variant.description, "rows": len(ctx.space.y_train)}
    W, source = _lime_weights(ctx, "logp" if variant.convention == "logp" else "prob")
    if variant.convention == "std":
        W = W * sd  # a weight per unit of the feature -> per standard deviation of it (0 where constant)
    aggregate = registry.resolve(registry.get(variant.base))
    return np.abs(aggregate(W)), {
        "method": variant.description,
        "convention": rankers.CONVENTIONS[variant.convention],
        **source,
    }


def _rank(ctx: _RankingContext, name: str) -> tuple[np.ndarray, dict]:
    if rankers.is_variant(name):
        return _rank_variant(ctx, rankers.variant(name))
    method = registry.get(name)
    if method.source is Source.RANDOM:
        from explainers.methods import random_importance

        return random_importance(ctx.space.dim, ctx.seed), {
            "method": method.kar_text,
            "seed": ctx.seed,
            "per_run": "each run draws its own (seed of the run)",
        }
    if method.source is Source.LIME_WEIGHTS:
        W, source = _lime_weights(ctx)
        return np.abs(registry.resolve(method)(W)), {"method": method.kar_text, **source}
    attr, source = _per_image(ctx, method)
    return np.abs(np.asarray(attr, dtype=np.float64)).mean(0), {
        "method": f"mean |per-image attribution|: {method.kar_text}",
        **source,
    }


def ranking_key(feature_set: str, method: str, run: int) -> str:
    """The key of a run's ranking in ``rankings.npz`` and the manifest: ``pixels/normlime/3``."""
    return f"{feature_set}/{method}/{run}"


def is_random(method: str) -> bool:
    return not rankers.is_variant(method) and registry.get(method).source is Source.RANDOM


def cell_importance(
    rankings: dict[str, np.ndarray], feature_set: str, method: str, run: int, run_seed: int, dim: int
) -> np.ndarray:
    """The ranking a cell removes by: Random draws its scores from the run's seed, others are the run's ranking."""
    if is_random(method):
        from explainers.methods import random_importance

        return random_importance(dim, run_seed)
    return rankings[ranking_key(feature_set, method, run)]


def compute_rankings(
    spaces: dict[str, FeatureSpace],
    models: dict[str, nn.Module],
    methods: Iterable[str],
    *,
    config: RankingConfig,
    seeds: Mapping[int, int],
    cache: dict[str, np.ndarray] | None = None,
    on_ranking: Callable[[str, np.ndarray, dict], None] | None = None,
    progress_factory: Callable[[str], Callable[[int, int], None] | None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """Global importance per ``feature_set/method/run`` for each run of ``seeds`` ({run: its seed});
    keys already in ``cache`` are reused.

    ``on_ranking(key, importance, source)`` is called after each new ranking
    (the runner saves it there, so an interruption keeps what was done).
    """
    rankings: dict[str, np.ndarray] = {}
    sources: dict[str, dict] = {}
    cache = cache or {}
    methods = tuple(methods)
    for run, seed in seeds.items():
        for name, space in spaces.items():
            ctx = _RankingContext(space, models.get(name), config, seed, None)
            for method in methods:
                key = ranking_key(name, method, run)
                if key in cache:
                    rankings[key] = np.asarray(cache[key], dtype=np.float64)
                    continue
                ctx.progress = progress_factory(key) if progress_factory else None
                start = time.perf_counter()
                importance, source = _rank(ctx, method)
                importance = np.asarray(importance, dtype=np.float64).reshape(-1)
                if importance.shape != (space.dim,) or not np.isfinite(importance).all():
                    raise RuntimeError(f"{key}: ranking of shape {importance.shape} or not finite")
                source = {**source, "run": run, "seconds": round(time.perf_counter() - start, 2)}
                rankings[key], sources[key] = importance, source
                if on_ranking is not None:
                    on_ranking(key, importance, source)
    return rankings, sources
