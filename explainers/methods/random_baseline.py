"""The "Random" KAR baseline: importance drawn uniformly at random (a sanity check)."""

from __future__ import annotations

import numpy as np


def random_importance(num_features: int, seed: int) -> np.ndarray:
    """(num_features,) scores in [0, 1); the same seed gives the same ranking."""
    if num_features <= 0:
        raise ValueError(f"num_features must be positive (got {num_features})")
    return np.random.default_rng(seed).random(num_features)
