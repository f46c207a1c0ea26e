"""Tiny data and budgets shared by the KAR core's tests (imported by conftest.py and the test files)."""

from __future__ import annotations

import numpy as np

from explainers.model import TrainConfig
from kar.core.rankings import RankingConfig

INFORMATIVE = np.array([9, 14, 19, 22, 27, 36, 41, 44, 49, 54])  # pixel of class c: INFORMATIVE[c]
TINY_TRAINING = TrainConfig(epochs=6, batch_size=32, shift=0)


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    rng.shuffle(y)
    x = rng.random((n, 64)).astype(np.float32)
    x[:, INFORMATIVE] = 0.0
    x[np.arange(n), INFORMATIVE[y]] = 1.0
    return x, y


def keeps_informative() -> np.ndarray:
    scores = np.random.default_rng(5).random(64) * 0.1
    scores[INFORMATIVE] = 1.0
    return scores


TINY_RANKING = RankingConfig(
    per_class=2,
    lime_samples=300,
    lime_features=10,
    lime_features_conv=10,
    noise_samples=20,
    ig_steps=16,
    batch_size=500,
)
