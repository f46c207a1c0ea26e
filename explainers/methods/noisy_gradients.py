"""SmoothGrad-squared and VarGrad over one shared noise loop (paper, "Saliency Map Baselines").

For each image, ``num_samples`` copies x + eta, eta ~ N(0, sigma^2 I), are
differentiated once; SmoothGrad^2 = E[(df/dx)^2] and VarGrad = Var(|df/dx|)
(population variance, as the paper states it) are read off the same gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data import MNIST_CLASSES
from ._common import BACKWARD_BATCH, Progress, instance_generator, prepare, target_gradient

GROUP = 16  # images whose samples are held in memory together


@dataclass(frozen=True)
class NoiseTunnelMaps:
    smoothgrad_sq: np.ndarray  # (n, d)
    vargrad: np.ndarray  # (n, d)


def noise_tunnel(
    model: nn.Module,
    X,
    targets=None,
    *,
    num_samples: int = 100,
    sigma: float = 0.3,
    batch_size: int = BACKWARD_BATCH,
    seed: int = 0,
    instance_ids=None,
    progress: Progress = None,
) -> NoiseTunnelMaps:
    """Both per-image maps from one pass over the noise; ``targets`` default to the prediction."""
    inst = prepare(
        model, X, targets, batch_size=batch_size, instance_ids=instance_ids, num_samples=num_samples, sigma=sigma
    )
    x, targets, ids, n, d = inst.x, inst.targets, inst.ids, inst.n, inst.d
    sg = np.zeros((n, d))
    vg = np.zeros((n, d))
    for start in range(0, n, GROUP):
        stop = min(n, start + GROUP)
        noise = torch.stack(
            [torch.randn(num_samples, d, generator=instance_generator(seed, ids[i])) for i in range(start, stop)]
        ).to(x.device)
        points = (x[start:stop, None, :] + sigma * noise).reshape(-1, d)
        rows = torch.repeat_interleave(targets[start:stop], num_samples)
        grads = (
            torch.cat(
                [
                    target_gradient(model, points[i : i + batch_size], rows[i : i + batch_size])
                    for i in range(0, len(points), batch_size)
                ]
            )
            .reshape(stop - start, num_samples, d)
            .to(torch.float64)
        )
        sg[start:stop] = grads.pow(2).mean(1).cpu().numpy()
        vg[start:stop] = grads.abs().var(1, unbiased=False).cpu().numpy()
        if progress is not None:
            progress(stop - start)
    return NoiseTunnelMaps(smoothgrad_sq=sg, vargrad=vg)


def smoothgrad_sq(model: nn.Module, X, targets=None, **kwargs) -> np.ndarray:
    """SmoothGrad-squared per image, (n, d)."""
    return noise_tunnel(model, X, targets, **kwargs).smoothgrad_sq


def vargrad(model: nn.Module, X, targets=None, **kwargs) -> np.ndarray:
    """VarGrad per image, (n, d): the variance of |df/dx| over the noise."""
    return noise_tunnel(model, X, targets, **kwargs).vargrad


def class_mean_maps(maps: np.ndarray, labels, num_classes: int = len(MNIST_CLASSES)) -> np.ndarray:
    """Average the per-image maps of each class: (num_classes, d); a class with no image stays 0."""
    maps = np.asarray(maps, dtype=np.float64)
    labels = np.asarray(labels)
    out = np.zeros((num_classes, maps.shape[1]))
    for y in range(num_classes):
        if (labels == y).any():
            out[y] = maps[labels == y].mean(0)
    return out
