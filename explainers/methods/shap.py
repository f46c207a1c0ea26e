"""Kernel SHAP: the sampled least-squares Shapley estimate (Lundberg and Lee, 2017), batched.

A coalition z in {0,1}^d keeps the instance's value where z = 1 and the
background's where z = 0; v(z) is the model's target score averaged over the
background rows. The Shapley values solve the weighted regression of v(z) on z
under the Shapley kernel, constrained to sum to f(x) - E[f(background)]. With a
budget of at least 2^d - 2 coalitions every coalition is enumerated and the
result is exact; otherwise coalition sizes are drawn from the kernel and each
draw is paired with its complement (which halves the variance).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import scipy.linalg
import torch
from torch import nn

from ._common import Progress, as_tensor, check_positive, flat, instance_generator, resolve_targets
from ._common import instance_ids as stream_ids


def kernel_shap(
    model: nn.Module,
    X,
    targets=None,
    *,
    num_samples: int = 2048,
    background,
    batch_size: int = 1000,
    seed: int = 0,
    instance_ids=None,
    progress: Progress = None,
) -> np.ndarray:
    """Shapley value estimates, (n, d), of f(x)[target] against ``background`` ((d,) or (m, d))."""
    check_positive(num_samples=num_samples, batch_size=batch_size)
    x = flat(as_tensor(X, model))
    n, d = x.shape
    bg = torch.as_tensor(np.asarray(background) if not isinstance(background, torch.Tensor) else background)
    bg = bg.to(dtype=torch.float32, device=x.device).reshape(-1, d)
    targets = resolve_targets(model, x, targets, batch_size)
    ids = stream_ids(instance_ids, n)
    exact = d < 31 and num_samples >= 2**d - 2
    out = np.zeros((n, d))
    for i in range(n):
        if exact:
            Z, w = _all_coalitions(d)
        else:
            Z, w = _sampled_coalitions(d, num_samples, instance_generator(seed, ids[i]))
        Zt = torch.as_tensor(Z, dtype=torch.float32, device=x.device)
        full = torch.ones(1, d, device=x.device)
        empty = torch.zeros(1, d, device=x.device)
        values = _coalition_values(model, x[i], bg, torch.cat([empty, full, Zt]), targets[i], batch_size)
        out[i] = _solve(Z, w, values[2:], values[0], values[1])
        if progress is not None:
            progress(1)
    return out


@torch.no_grad()
def _coalition_values(model, x, bg, Z, target, batch_size) -> np.ndarray:
    """v(z) for every coalition row of Z: mean over background rows of f(z*x + (1-z)*b)[target]."""
    m = len(bg)
    values = []
    per = max(1, batch_size // m)
    for start in range(0, len(Z), per):
        z = Z[start : start + per]
        points = (z[:, None, :] * x + (1 - z[:, None, :]) * bg[None]).reshape(-1, x.numel())
        scores = model(points)[:, target].reshape(len(z), m).mean(1)
        values.append(scores.double().cpu())
    return torch.cat(values).numpy()


def _solve(Z: np.ndarray, w: np.ndarray, v: np.ndarray, v_empty: float, v_full: float) -> np.ndarray:
    """Weighted least squares with sum(phi) = v_full - v_empty, by eliminating the last feature."""
    total = v_full - v_empty
    A = Z[:, :-1] - Z[:, -1:]
    b = v - v_empty - Z[:, -1] * total
    Aw = A * w[:, None]
    try:
        # Normal equations: one d x d product and a Cholesky solve, several times faster than
        # an SVD-based lstsq on the (coalitions x d) matrix when there are more coalitions than features.
        phi = scipy.linalg.solve(Aw.T @ A, Aw.T @ b, assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError, ValueError):
        root = np.sqrt(w)[:, None]  # too few coalitions to determine every value: minimum-norm solution
        phi, *_ = np.linalg.lstsq(A * root, b * root[:, 0], rcond=None)
    return np.append(phi, total - phi.sum())


def shapley_kernel_weight(d: int, size: int) -> float:
    """The Shapley kernel pi(z) = (d - 1) / (C(d, |z|) |z| (d - |z|))."""
    return (d - 1) / (math.comb(d, size) * size * (d - size))


def _all_coalitions(d: int) -> tuple[np.ndarray, np.ndarray]:
    Z = np.array([z for z in itertools.product((0, 1), repeat=d) if 0 < sum(z) < d], dtype=np.float64)
    w = np.array([shapley_kernel_weight(d, int(z.sum())) for z in Z])
    return Z, w


def _sampled_coalitions(d: int, num_samples: int, gen: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Coalitions drawn from the kernel (so equal weights), each with its complement."""
    sizes = np.arange(1, d)
    p = (d - 1) / (sizes * (d - sizes))
    p = torch.as_tensor(p / p.sum())
    half = max(1, num_samples // 2)
    drawn = sizes[torch.multinomial(p, half, replacement=True, generator=gen).numpy()]
    keys = torch.rand(half, d, generator=gen)
    ranks = keys.argsort(1).argsort(1).numpy()  # a uniform random subset of each drawn size
    Z = (ranks < drawn[:, None]).astype(np.float64)
    Z = np.concatenate([Z, 1 - Z])
    return Z, np.ones(len(Z))
