"""Generate an explanation set: local LIME weights, class-level maps of every method, pictures.

Plain NumPy/PyTorch and files (no Django): ``explainers.services`` registers the
result in the database. Local weights are cached as they are computed, so an
interrupted run continues where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import render
from .files import atomic_savez, atomic_write, atomic_write_json
from .data import MnistData, sample_per_class
from .methods import class_mean_maps, lime_local, lime_sp, noise_tunnel, normlime
from .methods.lime import DEFAULT_SIGMA
from .model import predict, probabilities

logger = logging.getLogger(__name__)

MAP_METHODS = ("normlime", "lime", "smoothgrad", "vargrad")
GRID_ORDER = ("vargrad", "smoothgrad", "lime", "normlime")  # the paper's Fig. 1, top to bottom
CACHE_NAME = "local_weights.partial.npz"
CHUNK = 20  # local explanations between two saves of the cache


@dataclass(frozen=True)
class GenerationConfig:
    per_class: int = 100  # local explanations per digit (by the model's prediction)
    num_samples: int = 1000  # LIME perturbations per explanation
    num_features: int = 20  # K
    sigma: float = DEFAULT_SIGMA  # LIME sampling noise, pixel units
    kernel_width: float | None = None  # default 0.75 * sqrt(784) * sigma
    noise_samples: int = 100  # SmoothGrad/VarGrad samples per image (paper: 100)
    noise_sigma: float = 0.3  # paper: 0.3
    images_per_class: int = 10  # SmoothGrad/VarGrad images averaged per class (paper: 10)
    batch_size: int = 250
    seed: int = 0


@dataclass
class GenerationResult:
    out_dir: Path
    maps: dict[str, np.ndarray]
    manifest: dict
    resumed_from: int  # local explanations found in the cache


def generate(
    model,
    model_sha256: str,
    data: MnistData,
    out_dir: str | Path,
    config: GenerationConfig,
    *,
    lime_progress: Callable[[int, int], None] | None = None,
    noise_progress: Callable[[int, int], None] | None = None,
) -> GenerationResult:
    """Compute and write everything into ``out_dir``; the progress callbacks get (done, total)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    f = probabilities(model)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    predicted = predict(model, data.x_train)
    indices = sample_per_class(predicted, config.per_class, config.seed)
    labels = predicted[indices]

    t0 = time.perf_counter()
    W, resumed = _local_weights(f, data.x_train, indices, labels, model_sha256, data.source, out, config, lime_progress)
    timings["lime_local"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    grad_idx = sample_per_class(data.y_train, config.images_per_class, config.seed + 1)
    grad_labels = data.y_train[grad_idx]
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if noise_progress:
            noise_progress(done, len(grad_idx))

    tunnel = noise_tunnel(
        f,
        data.x_train[grad_idx],
        grad_labels,
        num_samples=config.noise_samples,
        sigma=config.noise_sigma,
        batch_size=max(config.batch_size, 100),
        seed=config.seed + 1,  # not the LIME streams of the same images
        instance_ids=grad_idx,
        progress=tick,
    )
    timings["smoothgrad_vargrad"] = time.perf_counter() - t0

    maps = {
        "normlime": normlime(W, labels),
        "lime": lime_sp(W, labels),
        "smoothgrad": class_mean_maps(tunnel.smoothgrad_sq, grad_labels),
        "vargrad": class_mean_maps(tunnel.vargrad, grad_labels),
        "normlime_signed": normlime(W, labels, signed=True),
        "lime_signed": lime_sp(W, labels, signed=True),
        "normlime_global": normlime(W),
    }
    shown = displayed_maps(maps)

    t0 = time.perf_counter()
    atomic_savez(out / "local_weights.npz", compressed=True, W=W, labels=labels, indices=indices)
    atomic_savez(out / "maps.npz", compressed=True, **maps)
    png_dir = out / "png"
    png_dir.mkdir(exist_ok=True)
    for method in MAP_METHODS:
        for digit in range(10):
            atomic_write(png_dir / f"{method}_{digit}.png", render.map_png(shown[method][digit]))
    atomic_write(out / "overview.png", render.overview_png(shown, list(GRID_ORDER)))
    timings["files"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - start

    manifest = {
        "model": {"sha256": model_sha256},
        "data": data.describe(),
        "parameters": asdict(config),
        "explained": {
            "split": "train",
            "local_explanations": int(len(indices)),
            "per_class_by_prediction": np.bincount(labels, minlength=10).tolist(),
            "gradient_images_per_class": np.bincount(grad_labels, minlength=10).tolist(),
        },
        "resumed_from": resumed,
        "shown": "positive part of normlime_signed and lime_signed; smoothgrad and vargrad as computed; "
        "each PNG scaled to its own maximum",
        "seconds": {k: round(v, 2) for k, v in timings.items()},
    }
    cache = out / CACHE_NAME
    if cache.exists():
        cache.unlink()
    return GenerationResult(out_dir=out, maps=maps, manifest=manifest, resumed_from=resumed)


def displayed_maps(maps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The four survey maps as shown: the positive part of the signed LIME and NormLIME maps."""
    return {
        "normlime": render.displayed(maps["normlime_signed"]),
        "lime": render.displayed(maps["lime_signed"]),
        "smoothgrad": render.displayed(maps["smoothgrad"]),
        "vargrad": render.displayed(maps["vargrad"]),
    }


def write_manifest(out_dir: Path, manifest: dict) -> None:
    atomic_write_json(Path(out_dir) / "manifest.json", manifest)


def _local_weights(f, x, indices, labels, model_sha256, source, out, config, progress):
    """LIME weights of every chosen image, resuming from (and extending) the cache in ``out``."""
    fingerprint = _fingerprint(model_sha256, source, indices, config)
    cache = out / CACHE_NAME
    W = np.zeros((len(indices), x.shape[1]))
    done = 0
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as saved:
                if str(saved["fingerprint"]) == fingerprint:
                    done = int(saved["done"])
                    W[:done] = saved["W"][:done]
                else:
                    logger.warning("%s was made with other inputs or parameters; starting afresh", cache)
        except (OSError, ValueError, KeyError):
            logger.warning("%s is unreadable; starting afresh", cache)
    resumed = done
    if progress:
        progress(done, len(indices))
    while done < len(indices):
        stop = min(len(indices), done + CHUNK)
        W[done:stop] = lime_local(
            f,
            x[indices[done:stop]],
            labels[done:stop],
            num_samples=config.num_samples,
            sigma=config.sigma,
            kernel_width=config.kernel_width,
            num_features=config.num_features,
            batch_size=config.batch_size,
            seed=config.seed,
            instance_ids=indices[done:stop],
        )
        done = stop
        atomic_savez(cache, compressed=True, W=W[:done], done=np.array(done), fingerprint=np.array(fingerprint))
        if progress:
            progress(done, len(indices))
    return W, resumed


def _fingerprint(model_sha256: str, source: str, indices: np.ndarray, config: GenerationConfig) -> str:
    lime_params = {k: getattr(config, k) for k in ("num_samples", "num_features", "sigma", "kernel_width", "seed")}
    blob = json.dumps([model_sha256, source, indices.tolist(), lime_params], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
