"""Integrated Gradients (Sundararajan, Taly and Yan, 2017), batched.

IG_i(x) = (x_i - b_i) * integral_0^1 df(b + a (x - b))[target] / dx_i da, for a
baseline image b. The integral is replaced by a quadrature rule with ``steps``
nodes a_k and weights w_k: IG(x) = (x - b) * sum_k w_k grad f(b + a_k (x - b)).
Completeness, sum_i IG_i(x) = f(x) - f(b), holds up to the quadrature error.

The rules, their nodes and weights are Captum's (``captum.attr._utils.
approximation_methods``), so that the same model, inputs, steps and rule give the
same attributions as ``captum.attr.IntegratedGradients`` (checked in
``tests/explainers/test_captum_agreement.py``). The default is Captum's default,
Gauss-Legendre, which is exact for integrands that are polynomials of degree
< 2 * steps and so converges much faster than the Riemann sums on smooth models.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..data import MNIST_CLASSES, MNIST_PIXELS
from ._common import BACKWARD_BATCH, Progress, check_positive, prepare, target_gradient
from .noisy_gradients import class_mean_maps

RULES = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")
DEFAULT_RULE = "gausslegendre"  # Captum's default
DEFAULT_STEPS = 64
BASELINES = ("black", "mean")  # the named baselines :func:`baseline_image` builds


def quadrature(steps: int, rule: str = DEFAULT_RULE) -> tuple[np.ndarray, np.ndarray]:
    """Nodes a_k in [0, 1] and weights w_k (summing to 1) of ``rule`` with ``steps`` nodes, as Captum builds them."""
    if rule not in RULES:
        raise ValueError(f"unknown integration rule {rule!r} (choose one of {', '.join(RULES)})")
    check_positive(steps=steps)
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]
        return 0.5 * (1 + nodes), 0.5 * weights
    if steps < 2:
        raise ValueError(f"the Riemann rules need at least 2 steps (got {steps})")
    # Captum draws the Riemann nodes with float32 torch.linspace; the same call gives the same nodes.
    kind = rule.split("_")[1]
    lo, hi = {
        "left": (0, 1 - 1 / steps),
        "right": (1 / steps, 1),
        "middle": (1 / (2 * steps), 1 - 1 / (2 * steps)),
    }.get(kind, (0, 1))
    nodes = np.array(torch.linspace(lo, hi, steps).tolist())
    weights = np.full(steps, 1 / steps)
    if kind == "trapezoid":
        weights[[0, -1]] /= 2
    return nodes, weights


def baseline_image(name: str, x_train=None) -> np.ndarray:
    """The named baseline as one flat image: ``black`` (all zeros) or ``mean`` (the training images' mean).

    ``x_train`` ((n, d) or (n, C, H, W)) is needed for ``mean`` and gives the size for ``black``
    (default an MNIST image's).
    """
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r} (choose one of {', '.join(BASELINES)}, or pass an image)")
    if name == "mean":
        if x_train is None or len(x_train) == 0:
            raise ValueError("the 'mean' baseline needs the training images (x_train)")
        return np.asarray(x_train, dtype=np.float64).reshape(len(x_train), -1).mean(0)
    d = MNIST_PIXELS if x_train is None else int(np.prod(np.shape(x_train)[1:]))
    return np.zeros(d)


def integrated_gradients(
    model: nn.Module,
    X,
    targets=None,
    *,
    baseline="black",
    steps: int = DEFAULT_STEPS,
    rule: str = DEFAULT_RULE,
    batch_size: int = BACKWARD_BATCH,
    progress: Progress = None,
    seed: int | None = None,
    instance_ids=None,
) -> np.ndarray:
    """Integrated Gradients per image, (n, d) float64; ``targets`` default to the model's prediction.

    ``seed`` is accepted and ignored, as :class:`~explainers.methods._common.PerImageMethod`
    states for a method that draws nothing at random; ``instance_ids`` is only checked.

    ``baseline``: ``"black"`` (zeros), or an image ((d,) or any shape of d values, e.g.
    ``baseline_image("mean", x_train)``), or one image per input ((n, d)).
    ``batch_size`` is the number of interpolated points per forward and backward pass.
    The computation runs on the inputs' device (a tensor) or the model's (an array).
    """
    inst = prepare(model, X, targets, batch_size=batch_size, instance_ids=instance_ids)
    x, targets, n, d = inst.x, inst.targets, inst.n, inst.d
    alphas, weights = quadrature(steps, rule)
    b = _baselines(baseline, n, d, x.device)
    # float32 nodes, as Captum uses them (a Python float times a float32 tensor), so the points agree bit for bit
    a = torch.as_tensor(alphas, dtype=torch.float32, device=x.device)
    w = torch.as_tensor(weights, dtype=torch.float64, device=x.device)
    delta = x - b
    total = torch.zeros(n, d, dtype=torch.float64, device=x.device)  # sum_k w_k grad f(point_k)
    done = 0
    for start in range(0, n * steps, batch_size):
        k = torch.arange(start, min(n * steps, start + batch_size), device=x.device)
        image, step = k // steps, k % steps
        points = b[image] + a[step, None] * delta[image]
        grads = target_gradient(model, points, targets[image])
        total.index_add_(0, image, grads.to(torch.float64) * w[step, None])
        finished = int(k[-1] + 1) // steps  # images whose every step is now done
        if progress is not None and finished > done:
            progress(finished - done)
        done = finished
    return (total * delta.to(torch.float64)).cpu().numpy()


def integrated_gradients_class_maps(
    model: nn.Module, X, labels, num_classes: int = len(MNIST_CLASSES), **kwargs
) -> np.ndarray:
    """Class maps (num_classes, d): the mean signed IG of each class's images, each explained for its label.

    ``X`` and ``labels`` are the images the gradient methods share (the caller picks them, as for
    SmoothGrad^2); ``kwargs`` go to :func:`integrated_gradients`.
    """
    labels = np.asarray(labels)
    maps = integrated_gradients(model, X, labels, **kwargs)
    return class_mean_maps(maps, labels, num_classes)


def _baselines(baseline, n: int, d: int, device: torch.device) -> torch.Tensor:
    """The baseline of each input, (n, d) float32 on ``device``."""
    if isinstance(baseline, str):
        if baseline != "black":
            raise ValueError(f"baseline {baseline!r}: pass 'black' or an image (e.g. baseline_image('mean', x_train))")
        return torch.zeros(n, d, device=device)
    b = baseline.detach() if isinstance(baseline, torch.Tensor) else torch.as_tensor(np.asarray(baseline))
    b = b.to(device=device, dtype=torch.float32)
    if b.numel() == d:
        return b.reshape(1, d).expand(n, d)
    if b.numel() == n * d:
        return b.reshape(n, d)
    raise ValueError(f"the baseline has {b.numel()} values; expected {d} (one image) or {n * d} (one per input)")
