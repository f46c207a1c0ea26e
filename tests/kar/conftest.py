"""Tiny data for the KAR core's tests: 8x8 "images" whose label is carried by ten known pixels.

One pixel per class is set to 1 for its class and 0 otherwise, among 54 pixels of
noise; the network is the paper's fully connected head. No Django needed.
"""

from __future__ import annotations

import pytest
import torch

from explainers.model import probabilities, train
from kar.core.spaces import FeatureSpace
from tests.kar.tiny import TINY_TRAINING, synthetic


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Train as KAR cells do (one thread): faster for tiny nets, and the thread count is restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def space() -> FeatureSpace:
    x_train, y_train = synthetic(600, 0)
    x_test, y_test = synthetic(300, 1)
    return FeatureSpace("pixels", "head", x_train, y_train, x_test, y_test)


@pytest.fixture(scope="module")
def explained(space) -> torch.nn.Module:
    """The model the methods explain: the head trained on all features."""
    return probabilities(train(space.build_model(0), space.x_train, space.y_train, config=TINY_TRAINING, seed=0))
