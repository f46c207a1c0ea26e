"""Ranking -> which features go, and how they are blanked (KAR removes the least important first).

A removed feature is replaced by its mean over the training set, in the
training data (every mini-batch, after augmentation) and in the test data.
"""

from __future__ import annotations

import math

import numpy as np
import torch

MODES = ("kar", "roar")  # kar: least important first (the paper); roar: most important first (Hooker et al.)


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
