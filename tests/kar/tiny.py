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


RGB_SHAPE = (3, 12, 16)  # a small colour image set of another size than MNIST's
RGB_CLASSES = ("red", "green", "blue")


def rgb_data(n_train: int = 24, n_test: int = 12, seed: int = 0):
    """An :class:`explainers.data.ImageData` of 3 x 12 x 16 images in three classes, random values."""
    from explainers.data import ImageData

    rng = np.random.default_rng(seed)
    d = int(np.prod(RGB_SHAPE))
    return ImageData(
        rng.random((n_train, d)).astype(np.float32),
        np.arange(n_train) % len(RGB_CLASSES),
        rng.random((n_test, d)).astype(np.float32),
        np.arange(n_test) % len(RGB_CLASSES),
        source="rgb test images",
        classes=RGB_CLASSES,
        shape=RGB_SHAPE,
        noun="class",
    )
