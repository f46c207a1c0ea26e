"""LIME local explanations, many instances at once (paper Eq. 1-2).

For each instance x0: draw ``num_samples`` points x' ~ N(x0, sigma^2 I), query
f(x')[target], weight the squared loss by lime's kernel sqrt(exp(-||x' - x0||^2 /
width^2)), select K = ``num_features`` features with LASSO (the first K to enter
the LASSO path, found with LARS) and fit weighted least squares on those K.

Why a hand-written LARS: scikit-learn's ``lars_path`` handles one instance at a
time and recomputes a p x p Gram matrix or full correlations; here the path is
advanced for a whole batch of instances together in float64 with ``torch``,
keeping only the K columns of X^T X it needs, so the regression costs a few
percent of the model's forward passes (see ``benchmarks/lime_throughput.py``).
Its selections are checked against ``sklearn.linear_model.lars_path`` in the tests.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .. import compute
from ._common import FORWARD_BATCH, Progress, batched_solve, check_positive, instance_generator, prepare

DEFAULT_SIGMA = 0.25
DEFAULT_SAMPLES = 1000  # perturbations per explanation (the paper states none; lime's own default is 5000)
DEFAULT_FEATURES = 20  # K, the features a local explanation keeps
# instances whose regressions are solved together; bounds memory at ~6 MB per instance
REGRESSION_GROUP = 16


def default_kernel_width(num_features_total: int, sigma: float) -> float:
    """lime's 0.75 * sqrt(d), in units of the sampling noise (lime samples with unit std)."""
    return 0.75 * math.sqrt(num_features_total) * sigma


def lime_kernel(sq_dist: torch.Tensor, width: float) -> torch.Tensor:
    """The `lime` package's proximity kernel sqrt(exp(-d^2 / width^2)) of squared distances d^2.

    Written as exp(-d^2 / (2 width^2)), the same function, which underflows only twice as far out.
    (Before, this project used exp(-d^2 / width^2): lime's kernel at width / sqrt(2).)
    """
    return torch.exp(-sq_dist / (2 * width**2))


def lime_local(
    model: nn.Module,
    X,
    targets=None,
    *,
    num_samples: int = DEFAULT_SAMPLES,
    sigma: float = DEFAULT_SIGMA,
    kernel_width: float | None = None,
    num_features: int = DEFAULT_FEATURES,
    batch_size: int = FORWARD_BATCH,
    seed: int = 0,
    instance_ids=None,
    progress: Progress = None,
) -> np.ndarray:
    """Sparse local LIME weights, one row of d = X[0].numel() weights per instance.

    ``model(x)`` must return one score per class (probabilities for the paper's
    f); ``targets`` defaults to the model's own prediction for each instance.
    ``batch_size`` is the number of perturbed points per forward pass. Instance i
    draws its samples from a stream keyed by (seed, instance_ids[i]) (default i).
    Returns an (n, d) float64 array with at most ``num_features`` non-zeros per row.
    """
    if kernel_width is not None:
        check_positive(kernel_width=kernel_width)
    inst = prepare(
        model,
        X,
        targets,
        batch_size=batch_size,
        instance_ids=instance_ids,
        num_samples=num_samples,
        sigma=sigma,
        num_features=num_features,
    )
    x, targets, ids, n, d = inst.x, inst.targets, inst.ids, inst.n, inst.d
    width = kernel_width or default_kernel_width(d, sigma)
    weights = np.zeros((n, d), dtype=np.float64)
    for start in range(0, n, REGRESSION_GROUP):
        stop = min(n, start + REGRESSION_GROUP)
        noise = torch.stack(
            [
                torch.randn(num_samples, d, generator=instance_generator(seed, ids[i])).to(x.device)
                for i in range(start, stop)
            ]
        ).mul_(sigma)  # (b, s, d): x' - x0
        y = _query(model, x[start:stop], noise, targets[start:stop], batch_size)
        sq_dist = noise.to(torch.float64).pow(2).sum(-1)
        kernel = lime_kernel(sq_dist, width)
        weights[start:stop] = weighted_sparse_fit(noise, y, kernel, num_features).cpu().numpy()
        if progress is not None:
            progress(stop - start)
    return weights


@torch.no_grad()
def _query(model: nn.Module, x0: torch.Tensor, noise: torch.Tensor, targets: torch.Tensor, batch_size: int):
    """f(x0 + noise)[target] for every instance and sample, ``batch_size`` rows per forward pass."""
    b, s, d = noise.shape
    points = (x0[:, None, :] + noise).reshape(b * s, d)
    rows = torch.repeat_interleave(targets, s)
    out = torch.empty(b * s, dtype=torch.float64, device=x0.device)
    for i in range(0, b * s, batch_size):
        scores = compute.forward(model, points[i : i + batch_size])
        out[i : i + batch_size] = scores.gather(1, rows[i : i + batch_size, None])[:, 0]
    return out.reshape(b, s)


def weighted_sparse_fit(Z: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, k: int) -> torch.Tensor:
    """Weights (b, d) of the weighted regression y ~ Z, K features chosen by LASSO then refitted.

    Z: (b, s, d) designs, y: (b, s) responses, kernel: (b, s) sample weights.
    An intercept is fitted (by weighted centring) and not returned.
    """
    Z = Z.to(torch.float64)
    y = y.to(torch.float64)
    w = kernel.to(torch.float64)
    w = w / w.sum(1, keepdim=True)
    root = w.sqrt()
    Xc = (Z - torch.bmm(w[:, None, :], Z)).mul_(root[:, :, None])
    yc = (y - (w * y).sum(1, keepdim=True)) * root
    return lasso_select_refit(Xc, yc, k)


def lasso_select_refit(Xc: torch.Tensor, yc: torch.Tensor, k: int) -> torch.Tensor:
    """Run the LARS-LASSO path until K features are active, then least squares on them.

    Xc: (b, s, d) centred (and weight-scaled) designs; yc: (b, s). Returns (b, d).
    """
    b, s, d = Xc.shape
    # the centred design has rank <= s - 1: more active features would make the Gram matrix singular
    k = max(1, min(k, d, s - 1))
    c0 = torch.bmm(Xc.transpose(1, 2), yc[:, :, None])[:, :, 0]  # X^T y, shared with the path
    active, gram, _ = lars_lasso(Xc, yc, k, correlations=c0)
    used = active >= 0
    idx = active.clamp(min=0)
    rhs = torch.where(used, c0.gather(1, idx), torch.zeros_like(c0[:, :k]))
    beta = batched_solve(_masked_gram(gram, used), rhs)
    out = torch.zeros(b, d, dtype=Xc.dtype, device=Xc.device)
    # scatter_add into the used slots only: empty slots carry index 0 and a zero weight
    out.scatter_add_(1, idx, torch.where(used, beta, torch.zeros_like(beta)))
    return out


def _masked_gram(gram: torch.Tensor, used: torch.Tensor) -> torch.Tensor:
    """The slots' Gram matrix with empty slots replaced by identity rows (so it stays invertible)."""
    both = used[:, :, None] & used[:, None, :]
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device).expand_as(gram)
    return torch.where(both, gram, torch.where(~used[:, :, None], eye, torch.zeros_like(gram)))


def lars_lasso(Xc: torch.Tensor, yc: torch.Tensor, k: int, max_steps: int | None = None, correlations=None):
    """The LASSO path by LARS with the lasso modification, for a batch, stopped at K active features.

    ``correlations``: X^T y when the caller already has it. Returns (active, gram, steps):
    ``active`` (b, k) feature index per slot (-1 = empty),
    ``gram`` (b, k, k) X_A^T X_A over the slots. Follows Efron et al. (2004), Sec. 3.1/3.3.
    """
    b, s, d = Xc.shape
    dt, dev = Xc.dtype, Xc.device
    max_steps = max_steps or 8 * k + 8
    rows = torch.arange(b, device=dev)
    if correlations is None:
        correlations = torch.bmm(Xc.transpose(1, 2), yc[:, :, None])[:, :, 0]
    c = correlations.clone()  # current correlations X^T (y - mu)
    beta = torch.zeros(b, d, dtype=dt, device=dev)
    is_active = torch.zeros(b, d, dtype=torch.bool, device=dev)
    slots = torch.full((b, k), -1, dtype=torch.int64, device=dev)
    cols = torch.zeros(b, d, k, dtype=dt, device=dev)  # X^T x_j for the feature in each slot
    scale = c.abs().amax(1)
    done = scale <= 1e-14 * (1 + yc.abs().amax(1))  # nothing to explain: no feature is selected
    # X^T x_j for the features most likely to enter (largest |X^T y|), in one matrix product:
    # a step then only reads a cached column instead of a pass over X (memory-bound).
    cache = _ColumnCache(Xc, c.abs().topk(min(d, 4 * k + 16), dim=1).indices)
    _add(cache, rows[~done], c.abs().argmax(1)[~done], slots, cols, is_active)
    steps = 0
    while steps < max_steps and not bool(done.all()):
        steps += 1
        used = slots >= 0
        idx = slots.clamp(min=0)
        gram = cols.gather(1, idx[:, :, None].expand(b, k, k))  # [b, l, m] = x_{slot l}^T x_{slot m}
        sign = torch.where(used, torch.sign(c.gather(1, idx)), torch.zeros(b, k, dtype=dt, device=dev))
        direction = batched_solve(_masked_gram(gram, used), sign)
        norm = 1.0 / torch.sqrt((sign * direction).sum(1).clamp(min=1e-300))
        direction = direction * norm[:, None]  # coefficient change per unit step
        a = torch.bmm(cols, direction[:, :, None])[:, :, 0]  # X^T u
        C = c.abs().amax(1)
        tiny = 1e-12 * (C / norm)[:, None]
        inf = torch.tensor(float("inf"), dtype=dt, device=dev)
        g1 = (C[:, None] - c) / (norm[:, None] - a)
        g2 = (C[:, None] + c) / (norm[:, None] + a)
        g1 = torch.where((g1 > tiny) & ~is_active, g1, inf)
        g2 = torch.where((g2 > tiny) & ~is_active, g2, inf)
        g_add, j_add = torch.minimum(g1, g2).min(1)
        coef = torch.where(used, beta.gather(1, idx), torch.zeros_like(direction))
        g_drop_all = -coef / direction
        g_drop_all = torch.where(used & (g_drop_all > tiny[:, :1]), g_drop_all, inf)
        g_drop, slot_drop = g_drop_all.min(1)
        g_end = C / norm  # all correlations reach zero: the least-squares end of the path
        gamma = torch.minimum(torch.minimum(g_add, g_drop), g_end)
        gamma = torch.where(done, torch.zeros_like(gamma), gamma)
        beta.scatter_add_(1, idx, torch.where(used, gamma[:, None] * direction, torch.zeros_like(direction)))
        c = c - gamma[:, None] * a
        dropping = ~done & (g_drop <= g_add) & (g_drop < g_end)
        adding = ~done & ~dropping & (g_add < g_end)
        ending = ~done & ~dropping & ~adding
        if bool(dropping.any()):
            r, sl = rows[dropping], slot_drop[dropping]
            feat = slots[r, sl]
            beta[r, feat] = 0.0
            is_active[r, feat] = False
            slots[r, sl] = -1
        if bool(adding.any()):
            _add(cache, rows[adding], j_add[adding], slots, cols, is_active)
        done = done | ending | ((slots >= 0).sum(1) >= k)
    idx = slots.clamp(min=0)
    gram = cols.gather(1, idx[:, :, None].expand(b, k, k))
    return slots, gram, steps


class _ColumnCache:
    """Columns X^T x_j of the Gram matrix: precomputed for candidate features, else on demand."""

    def __init__(self, Xc: torch.Tensor, candidates: torch.Tensor):
        self.Xc = Xc
        b, _, d = Xc.shape
        self.position = torch.full((b, d), -1, dtype=torch.int64, device=Xc.device)
        rows = torch.arange(b, device=Xc.device)[:, None]
        self.position[rows, candidates] = torch.arange(candidates.shape[1], device=Xc.device)
        chosen = Xc.gather(2, candidates[:, None, :].expand(-1, Xc.shape[1], -1))  # (b, s, m)
        self.columns = torch.bmm(Xc.transpose(1, 2), chosen)  # (b, d, m)

    def get(self, rows: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """(r, d): X^T x_j for feature ``features[i]`` of batch row ``rows[i]``."""
        pos = self.position[rows, features]
        out = self.columns[rows, :, pos.clamp(min=0)]
        missing = pos < 0
        if bool(missing.any()):
            r, f = rows[missing], features[missing]
            xj = self.Xc[r, :, f]  # (m, s): rare, so indexing a few rows is cheap
            out[missing] = torch.bmm(self.Xc[r].transpose(1, 2), xj[:, :, None])[:, :, 0]
        return out


def _add(cache: _ColumnCache, rows, features, slots, cols, is_active) -> None:
    """Put ``features`` into the first free slot of ``rows`` and store X^T x_j for them."""
    if len(rows) == 0:
        return
    free = (slots[rows] < 0).to(torch.int8).argmax(1)
    slots[rows, free] = features
    is_active[rows, features] = True
    cols[rows, :, free] = cache.get(rows, features)
