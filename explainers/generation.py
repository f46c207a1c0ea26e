"""Generate an explanation set: local LIME weights, class-level maps of every method, pictures.

Any image data set (:class:`explainers.data.ImageData`): ``maps.npz`` holds each method's
n_classes x (H*W) class maps, one channel (each method's registry ``channels`` rule reduces a
colour attribution); ``local_weights.npz`` keeps LIME's weights of every C*H*W value.

Plain NumPy/PyTorch and files (no Django): ``explainers.services`` registers the
result in the database. Local weights are cached as they are computed, so an
interrupted run (a crash, a full disk) continues where it stopped; the set's files and its
manifest are written together, all or none, and only then is the cache removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import compute, render
from .data import ImageData, sample_per_class
from .executor import Executor, InProcess
from .files import atomic_savez, atomic_write_all, atomic_write_json, npz_bytes, to_json
from .methods import class_mean_maps, lime_local, random_importance, registry
from .methods.channels import to_pixels
from .methods.lime import DEFAULT_FEATURES, DEFAULT_SAMPLES, DEFAULT_SIGMA
from .methods.registry import Method, Source
from .model import predict, probabilities

logger = logging.getLogger(__name__)

CACHE_NAME = "local_weights.partial.npz"
CHUNK = 20  # local explanations between two saves of the cache

#: Data-derived arguments a registry entry may ask for by name (``Method.inputs``).
DATA_INPUTS: dict[str, Callable[[ImageData], np.ndarray]] = {
    "train_mean": lambda data: data.x_train.mean(0),
    "black": lambda data: np.zeros(data.n_features),
}


@dataclass(frozen=True)
class GenerationConfig:
    per_class: int = 100  # local explanations per class (by the model's prediction)
    num_samples: int = DEFAULT_SAMPLES  # LIME perturbations per explanation
    num_features: int = DEFAULT_FEATURES  # K
    sigma: float = DEFAULT_SIGMA  # LIME sampling noise, pixel units
    kernel_width: float | None = None  # default 0.75 * sqrt(d) * sigma, d = values per image (C*H*W)
    images_per_class: int = 10  # images per class for the per-image methods (paper, SmoothGrad: 10)
    batch_size: int = compute.FORWARD_BATCH  # rows per forward pass
    seed: int = 0
    #: method name -> keyword values replacing its registry options, e.g. {"shap": {"patch": 4}}
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class GenerationResult:
    out_dir: Path
    maps: dict[str, np.ndarray]
    manifest: dict
    resumed_from: int  # local explanations found in the cache


def generate(
    model,
    model_sha256: str,
    data: ImageData,
    out_dir: str | Path,
    config: GenerationConfig,
    *,
    lime_progress: Callable[[int, int], None] | None = None,
    image_progress: Callable[[str, int, int], None] | None = None,
    executor: Executor | None = None,
    manifest_extra: Mapping[str, Any] | None = None,
) -> GenerationResult:
    """Compute and write everything into ``out_dir``: the class maps of every registered method.

    ``manifest_extra`` adds to ``manifest.json`` (a dict value adds to the entry of its key), which is
    written with the maps and pictures, all of them or none.

    The LIME batches run on ``executor`` (:mod:`explainers.executor`; default: this process).

    ``lime_progress`` gets (done, total) local explanations; ``image_progress`` gets (what, done,
    total) images of each per-image call (``what`` names the methods it serves).
    """
    unknown = sorted(set(config.options) - set(registry.names()))
    if unknown:
        raise ValueError(f"options for unknown method(s) {', '.join(unknown)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    executor = executor or InProcess()
    f = probabilities(model)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    predicted = predict(model, data.x_train)
    indices = sample_per_class(predicted, config.per_class, config.seed, data.n_classes)
    labels = predicted[indices]

    t0 = time.perf_counter()
    W, resumed = _local_weights(
        f, data.x_train, indices, labels, model_sha256, data.source, out, config, lime_progress, executor
    )
    timings["lime_local"] = time.perf_counter() - t0

    # The same training images, by true label, for every per-image method (the paper's SmoothGrad rule).
    grad_idx = sample_per_class(data.y_train, config.images_per_class, config.seed + 1, data.n_classes)
    grad_labels = data.y_train[grad_idx]
    maps, described = _class_maps(f, data, W, labels, grad_idx, grad_labels, config, timings, image_progress)
    shown = displayed_maps(maps)
    names = list(shown)

    t0 = time.perf_counter()
    png_dir = out / "png"
    map_shape = data.shape[1:]
    files = {
        out / "local_weights.npz": npz_bytes(compressed=True, W=W, labels=labels, indices=indices),
        out / "maps.npz": npz_bytes(compressed=True, **maps),
        **{
            png_dir / f"{method}_{digit}.png": render.map_png(shown[method][digit], shape=map_shape)
            for method in names
            for digit in range(data.n_classes)
        },
        out / "overview.png": render.overview_png(shown, overview_rows(names), classes=data.classes, shape=map_shape),
    }
    timings["files"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - start

    manifest = {
        "model": {"sha256": model_sha256},
        "data": data.describe(),
        "parameters": asdict(config),
        "compute": compute.current().describe(),  # precision and memory format of every batch
        "methods": described,
        "explained": {
            "split": "train",
            "local_explanations": int(len(indices)),
            "per_class_by_prediction": np.bincount(labels, minlength=data.n_classes).tolist(),
            "gradient_images_per_class": np.bincount(grad_labels, minlength=data.n_classes).tolist(),
        },
        "lime_executor": {"kind": type(executor).__name__, "workers": executor.workers},
        "resumed_from": resumed,
        "shown": "the positive part of each signed map (NAME_signed in maps.npz); unsigned maps as computed; "
        "each PNG scaled to its own maximum",
        "seconds": {k: round(v, 2) for k, v in timings.items()},
    }
    for key, value in (manifest_extra or {}).items():
        manifest[key] = {**manifest[key], **value} if isinstance(manifest.get(key), dict) else value
    png_dir.mkdir(exist_ok=True)
    atomic_write_all({**files, manifest_path(out): to_json(manifest)})
    (out / CACHE_NAME).unlink(missing_ok=True)  # only now: a failed write above resumes from the cache
    return GenerationResult(out_dir=out, maps=maps, manifest=manifest, resumed_from=resumed)


def method_options(method: Method, config: GenerationConfig) -> dict[str, Any]:
    """The registry's options of ``method`` with the config's replacements."""
    extra = dict(config.options.get(method.name, {}))
    unknown = sorted(set(extra) - set(method.options))
    if unknown:
        raise ValueError(
            f"{method.name}: unknown option(s) {', '.join(unknown)} (known: {', '.join(method.options) or 'none'})"
        )
    return {**method.options, **extra}


def _class_maps(f, data, W, labels, grad_idx, grad_labels, config, timings, progress):
    """maps.npz's arrays of every registered method, and what the manifest says of each.

    Each method's attributions become one channel by its registry rule first: LIME's local
    weights before they are aggregated, a per-image method's maps before the class mean.
    """
    n_classes = data.n_classes
    maps: dict[str, np.ndarray] = {}
    described: dict[str, dict] = {}
    calls: dict[str, Any] = {}  # per-image results, shared by methods with the same call
    per_image = [m for m in registry.METHODS if m.source is Source.PER_IMAGE]
    for method in registry.METHODS:
        options = method_options(method, config)
        t0 = time.perf_counter()
        if method.source is Source.LIME_WEIGHTS:
            aggregate = registry.resolve(method)
            pixel_W = to_pixels(W, data.shape, method.channels)
            maps[method.name] = aggregate(pixel_W, labels, num_classes=n_classes, **options)
            if method.signed:
                maps[f"{method.name}_signed"] = aggregate(
                    pixel_W, labels, signed=True, num_classes=n_classes, **options
                )
            maps[f"{method.name}_global"] = aggregate(pixel_W, **options)
            timing = method.name
        elif method.source is Source.PER_IMAGE:
            key = registry.call_key(method.function, options, method.inputs)
            sharing = [
                m.name for m in per_image if registry.call_key(m.function, method_options(m, config), m.inputs) == key
            ]
            timing = "_".join(sharing)
            if key not in calls:
                calls[key] = _attribute(method, options, f, data, grad_idx, grad_labels, config, timing, progress)
            result = calls[key]
            values = getattr(result, method.output) if method.output else result
            values = to_pixels(values, data.shape, method.channels)
            values = np.abs(values) if method.reduce == "mean_abs" else values
            class_map = class_mean_maps(values, grad_labels, n_classes)
            maps[method.name] = np.abs(class_map) if method.signed else class_map
            if method.signed:
                maps[f"{method.name}_signed"] = class_map
        else:
            pixels = data.height * data.width
            maps[method.name] = random_importance(n_classes * pixels, config.seed).reshape(n_classes, pixels)
            timing = method.name
        timings[timing] = timings.get(timing, 0.0) + time.perf_counter() - t0
        described[method.name] = {
            "label": method.label,
            "source": method.source.value,
            "function": method.function or None,
            "reduce": method.reduce if method.source is Source.PER_IMAGE else None,
            "options": options,
            "inputs": dict(method.inputs),
            "signed": method.signed,
        }
        if data.channels > 1:  # how its colour attributions became one channel
            described[method.name]["channels"] = method.channel_rule
    return maps, described


def _attribute(method: Method, options, f, data, grad_idx, grad_labels, config, what, progress):
    """One call of a per-image method over the gradient images, target = the label."""
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if progress:
            progress(what, done, len(grad_idx))

    inputs = {}
    for keyword, source in method.inputs.items():
        if source not in DATA_INPUTS:
            raise ValueError(f"{method.name}: unknown input {source!r} (known: {', '.join(DATA_INPUTS)})")
        inputs[keyword] = DATA_INPUTS[source](data)
    if method.image_shape:
        inputs["shape"] = data.shape
    return registry.resolve(method)(
        f,
        data.x_train[grad_idx],
        grad_labels,
        **options,
        **inputs,
        batch_size=max(config.batch_size, 100),
        seed=config.seed + 1,  # not the LIME streams of the same images
        instance_ids=grad_idx,
        progress=tick,
    )


def displayed_maps(maps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each registered method's maps as shown (those present): the positive part of signed maps."""
    return {
        m.name: render.displayed(maps[f"{m.name}_signed"] if m.signed else maps[m.name])
        for m in registry.METHODS
        if (f"{m.name}_signed" if m.signed else m.name) in maps
    }


def overview_rows(names) -> list[str]:
    """Rows of the overview figure for the methods ``names``: the registry's figure order."""
    return [n for n in registry.figure_order() if n in names]


MANIFEST = "manifest.json"  # a set's manifest, in its folder and in its bundle


def manifest_path(out_dir: Path) -> Path:
    return Path(out_dir) / MANIFEST


def write_manifest(out_dir: Path, manifest: dict) -> None:
    atomic_write_json(manifest_path(out_dir), manifest)


@dataclass(frozen=True)
class LimeBatches:
    """What every LIME batch needs, sent once to each worker; a batch is a (start, stop) span of the chosen images."""

    f: Any  # the explained model (softmax probabilities)
    x: np.ndarray  # the chosen images, in order
    labels: np.ndarray
    indices: np.ndarray  # their rows in the training set: each image's random stream (batches do not matter)
    config: GenerationConfig
    compute: compute.Compute  # travels with the job: a Dask worker has its own compute setting


def lime_batch(job: LimeBatches, span: tuple[int, int]) -> tuple[tuple[int, int], np.ndarray]:
    """The LIME weights of one span of the chosen images, wherever the executor runs it."""
    start, stop = span
    c = job.config
    with compute.using(job.compute):
        W = lime_local(
            job.f,
            job.x[start:stop],
            job.labels[start:stop],
            num_samples=c.num_samples,
            sigma=c.sigma,
            kernel_width=c.kernel_width,
            num_features=c.num_features,
            batch_size=c.batch_size,
            seed=c.seed,
            instance_ids=job.indices[start:stop],
        )
    return span, W


def _local_weights(f, x, indices, labels, model_sha256, source, out, config, progress, executor: Executor):
    """LIME weights of every chosen image, in batches of CHUNK on ``executor``, resuming from the cache in ``out``.

    The cache records which images are finished (batches may finish in any order on a cluster) and is
    rewritten after each batch; an image's weights do not depend on its batch (``instance_ids``).
    """
    fingerprint = _fingerprint(model_sha256, source, indices, config)
    cache = out / CACHE_NAME
    W = np.zeros((len(indices), x.shape[1]))
    finished = np.zeros(len(indices), dtype=bool)
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as saved:
                if str(saved["fingerprint"]) == fingerprint:
                    finished = saved["finished"].astype(bool)
                    W[finished] = saved["W"][finished]
                else:
                    logger.warning("%s was made with other inputs or parameters; starting afresh", cache)
        except (OSError, ValueError, KeyError):
            logger.warning("%s is unreadable; starting afresh", cache)
    resumed = int(finished.sum())
    if progress:
        progress(resumed, len(indices))
    spans = [(a, min(len(indices), a + CHUNK)) for a in range(0, len(indices), CHUNK)]
    spans = [(a, b) for a, b in spans if not finished[a:b].all()]
    job = LimeBatches(f, np.asarray(x[indices]), np.asarray(labels), np.asarray(indices), config, compute.current())
    for (start, stop), weights in executor.map_unordered(lime_batch, job, spans, key=lambda span: f"lime-{span[0]}"):
        W[start:stop] = weights
        finished[start:stop] = True
        atomic_savez(cache, compressed=True, W=W, finished=finished, fingerprint=np.array(fingerprint))
        if progress:
            progress(int(finished.sum()), len(indices))
    return W, resumed


def _fingerprint(model_sha256: str, source: str, indices: np.ndarray, config: GenerationConfig) -> str:
    lime_params = {k: getattr(config, k) for k in ("num_samples", "num_features", "sigma", "kernel_width", "seed")}
    # bf16 weights differ from fp32 ones: a cache is resumed only at the precision that wrote it
    blob = json.dumps(
        [model_sha256, source, indices.tolist(), lime_params, compute.current().precision], sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()
