"""Kernel SHAP: the sampled least-squares Shapley estimate (Lundberg and Lee, 2017), batched.

A coalition z in {0,1}^d keeps the instance's value where z = 1 and the
background's where z = 0; v(z) is the model's target score averaged over the
background rows. The Shapley values solve the weighted regression of v(z) on z
under the Shapley kernel, constrained to sum to f(x) - E[f(background)]. With a
budget of at least 2^d - 2 coalitions every coalition is enumerated and the
result is exact; otherwise coalition sizes are drawn from the kernel and each
draw is paired with its complement (which halves the variance).

A paired draw and its complement give the same equation of the regression, so
``num_samples`` sampled coalitions determine at most ``num_samples // 2`` of the
d - 1 free values: a budget below that is refused with an error naming the
budget needed (shap's own rule, 2d + 2048), never solved by a silent
minimum-norm fallback. ``feature_mask`` groups features (Captum's convention:
every feature of a group gets the group's value), e.g. the 2x2-pixel patches of
:func:`patch_mask` that bring MNIST's 28 x 28 pixels down to 14 x 14 players; a patch
covers every channel of a colour image's pixels.
"""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np
import scipy.linalg
import torch
from torch import nn

from .. import compute
from ..data import MNIST_SHAPE
from ._common import FORWARD_BATCH, Progress, check_positive, instance_generator, prepare

logger = logging.getLogger(__name__)

EXTRA_SAMPLES = 2048  # shap's rule: 2d + 2048 coalitions


class UnderdeterminedError(ValueError):
    """Too few coalitions to determine every Shapley value (one line, names the budget needed)."""

    def __init__(self, message: str, *, num_samples: int, players: int):
        super().__init__(message)
        self.num_samples, self.players = num_samples, players
        self.needed = recommended_samples(players)


def recommended_samples(d: int) -> int:
    """shap's default budget for d players, 2d + 2048: enough for the least squares to be determined."""
    return 2 * d + EXTRA_SAMPLES


def patch_mask(patch: int, shape=MNIST_SHAPE) -> np.ndarray:
    """(C*H*W,) group ids of square ``patch`` x ``patch`` patches of images of ``shape`` (C, H, W).

    Patches are numbered row-major; a patch covers every channel of its pixels (channel-major
    rows, so the C blocks of H*W ids repeat). ``patch`` must divide both H and W. A 2-tuple
    ``shape`` is (H, W), one channel.
    """
    channels, height, width = (1, *shape) if len(shape) == 2 else shape
    if patch <= 0 or height % patch or width % patch:
        where = f"{height}" if height == width else f"both {height} and {width}"
        raise ValueError(f"patch {patch} must be a positive divisor of {where} (the image's height and width)")
    rows, cols = np.divmod(np.arange(height * width), width)
    return np.tile((rows // patch) * (width // patch) + cols // patch, channels)


def kernel_shap(
    model: nn.Module,
    X,
    targets=None,
    *,
    num_samples: int | None = 2048,
    background,
    batch_size: int = FORWARD_BATCH,
    seed: int = 0,
    instance_ids=None,
    progress: Progress = None,
    feature_mask=None,
    allow_underdetermined: bool = False,
) -> np.ndarray:
    """Shapley value estimates, (n, d), of f(x)[target] against ``background`` ((d,) or (m, d)).

    ``num_samples=None`` takes shap's budget for the g players, :func:`recommended_samples`.
    ``feature_mask`` ((d,) ints 0..g-1) makes the g groups the players; ``allow_underdetermined``
    keeps the old minimum-norm solve for a budget too small (logged; KAR's until issue 11).
    """
    if num_samples is not None:
        check_positive(num_samples=num_samples)
    inst = prepare(model, X, targets, batch_size=batch_size, instance_ids=instance_ids)
    x, targets, ids, n, d = inst.x, inst.targets, inst.ids, inst.n, inst.d
    bg = torch.as_tensor(np.asarray(background) if not isinstance(background, torch.Tensor) else background)
    bg = bg.to(dtype=torch.float32, device=x.device).reshape(-1, d)
    groups = _check_mask(feature_mask, d)
    g = d if groups is None else int(groups.max()) + 1
    num_samples = recommended_samples(g) if num_samples is None else num_samples
    exact = g < 31 and num_samples >= 2**g - 2
    if not exact and num_samples // 2 < g - 1:
        message = (
            f"kernel_shap: {num_samples} coalitions cannot determine {g} Shapley values (paired draws give at most "
            f"{num_samples // 2} equations for {g - 1} unknowns); use num_samples >= {recommended_samples(g)} "
            f"(2d + {EXTRA_SAMPLES}) or fewer players (feature_mask)"
        )
        if not allow_underdetermined:
            raise UnderdeterminedError(message, num_samples=num_samples, players=g)
        logger.warning("%s; using the minimum-norm solution as asked", message)
    out = np.zeros((n, d))
    for i in range(n):
        if exact:
            Z, w = _all_coalitions(g)
        else:
            Z, w = _sampled_coalitions(g, num_samples, instance_generator(seed, ids[i]))
        Zt = torch.as_tensor(Z, dtype=torch.float32, device=x.device)
        if groups is not None:
            Zt = Zt[:, torch.as_tensor(groups, device=x.device)]  # a group's players share its membership
        full = torch.ones(1, d, device=x.device)
        empty = torch.zeros(1, d, device=x.device)
        values = _coalition_values(model, x[i], bg, torch.cat([empty, full, Zt]), targets[i], batch_size)
        phi = _solve(Z, w, values[2:], values[0], values[1], allow_underdetermined, paired=not exact)
        out[i] = phi if groups is None else phi[groups]
        if progress is not None:
            progress(1)
    return out


def patch_shap(
    model: nn.Module,
    X,
    targets=None,
    *,
    patch: int = 2,
    num_samples: int | None = None,
    background,
    shape=MNIST_SHAPE,
    batch_size: int = FORWARD_BATCH,
    seed: int = 0,
    instance_ids=None,
    progress: Progress = None,
) -> np.ndarray:
    """Kernel SHAP of images of ``shape`` (C, H, W) over ``patch`` x ``patch`` patches, each covering every
    channel, (n, C*H*W); budget 2g + 2048 for the g patches by default."""
    return kernel_shap(
        model,
        X,
        targets,
        num_samples=num_samples,
        background=background,
        batch_size=batch_size,
        seed=seed,
        instance_ids=instance_ids,
        progress=progress,
        feature_mask=patch_mask(patch, shape),
    )


def _check_mask(feature_mask, d: int) -> np.ndarray | None:
    if feature_mask is None:
        return None
    groups = np.asarray(feature_mask).reshape(-1)
    if groups.shape != (d,) or not np.issubdtype(groups.dtype, np.integer):
        raise ValueError(f"feature_mask must hold {d} integer group ids (got shape {groups.shape}, {groups.dtype})")
    if groups.min() != 0 or set(np.unique(groups)) != set(range(int(groups.max()) + 1)):
        raise ValueError("feature_mask must number its groups 0, 1, ..., g - 1 without gaps")
    return groups


@torch.no_grad()
def _coalition_values(model, x, bg, Z, target, batch_size) -> np.ndarray:
    """v(z) for every coalition row of Z: mean over background rows of f(z*x + (1-z)*b)[target]."""
    m = len(bg)
    values = []
    per = max(1, batch_size // m)
    for start in range(0, len(Z), per):
        z = Z[start : start + per]
        points = (z[:, None, :] * x + (1 - z[:, None, :]) * bg[None]).reshape(-1, x.numel())
        scores = compute.forward(model, points)[:, target].reshape(len(z), m).mean(1)
        values.append(scores.double().cpu())
    return torch.cat(values).numpy()


def _normal_equations(A: np.ndarray, w: np.ndarray, b: np.ndarray, paired: bool) -> tuple[np.ndarray, np.ndarray]:
    """(A' W A, A' W b) of the constrained regression.

    ``paired``: the rows are h draws followed by their complements, with equal weights (what
    :func:`_sampled_coalitions` returns). A complement's row of A is the draw's row negated, so
    A' A = 2 A0' A0 and A' b = A0' (b0 - b1), half the work; and A0 holds only -1, 0 and 1, so
    its Gram matrix is a matrix of integers below 2^24 that float32 computes exactly, at twice
    float64's speed. The result equals the general product's exactly (the Gram) or up to rounding.
    """
    h = len(A) // 2
    if paired and len(A) == 2 * h and h < 2**24 and np.all(w == w[0]) and np.array_equal(A[h:], -A[:h]):
        A0 = A[:h]
        a32 = A0.astype(np.float32)
        return 2.0 * w[0] * (a32.T @ a32).astype(np.float64), w[0] * (A0.T @ (b[:h] - b[h:]))
    Aw = A * w[:, None]
    return Aw.T @ A, Aw.T @ b


def _solve(
    Z: np.ndarray,
    w: np.ndarray,
    v: np.ndarray,
    v_empty: float,
    v_full: float,
    allow_underdetermined: bool = False,
    paired: bool = False,
) -> np.ndarray:
    """Weighted least squares with sum(phi) = v_full - v_empty, by eliminating the last feature."""
    total = v_full - v_empty
    A = Z[:, :-1] - Z[:, -1:]
    b = v - v_empty - Z[:, -1] * total
    gram, rhs = _normal_equations(A, w, b, paired)
    try:
        # Normal equations: one d x d product and a Cholesky solve, several times faster than
        # an SVD-based lstsq on the (coalitions x d) matrix when there are more coalitions than features.
        phi = scipy.linalg.solve(gram, rhs, assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError, ValueError):
        if not allow_underdetermined:
            # enough draws, but too few distinct coalitions (repeats) to pin every value down
            d = Z.shape[1]
            raise UnderdeterminedError(
                f"kernel_shap: the {len(Z)} coalitions drawn do not determine {d} Shapley values; "
                f"use num_samples >= {recommended_samples(d)} (2d + {EXTRA_SAMPLES})",
                num_samples=len(Z),
                players=d,
            ) from None
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
    # A uniform random subset of each drawn size: the features whose key ranks below the size.
    # The ranks are the inverse of the sorting permutation, scattered rather than sorted a second time.
    order = keys.argsort(1)
    ranks = torch.empty_like(order).scatter_(1, order, torch.arange(d).expand(half, d)).numpy()
    Z = (ranks < drawn[:, None]).astype(np.float64)
    Z = np.concatenate([Z, 1 - Z])
    return Z, np.ones(len(Z))
