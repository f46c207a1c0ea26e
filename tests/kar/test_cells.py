"""kar.core.cells: one retraining on the tiny data (keeping the label pixels costs nothing)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explainers.model import TrainConfig, train
from kar.core.cells import BASELINE, Cell, run_cell, train_cell
from kar.core.masking import FeatureMask, keep_mask
from kar.core.spaces import conv_space, pixel_space
from tests.kar.tiny import TINY_TRAINING, keeps_informative

pytestmark = pytest.mark.slow  # trains networks or starts servers


def test_keeping_the_label_pixels_costs_no_error_and_dropping_them_costs_a_lot(space):
    keep_ranking = keeps_informative()
    base, _ = run_cell(space, None, Cell("pixels", BASELINE, 0, 1, 0), mode="kar", config=TINY_TRAINING)
    kept, _ = run_cell(space, keep_ranking, Cell("pixels", "x", 50, 1, 0), mode="kar", config=TINY_TRAINING)
    dropped, _ = run_cell(space, -keep_ranking, Cell("pixels", "x", 50, 1, 0), mode="kar", config=TINY_TRAINING)
    assert base > 0.95
    assert abs(base - kept) * 100 <= 2.0  # about zero error gain at 50 % removed
    assert (base - dropped) * 100 >= 50.0  # with the label pixels gone only chance (10 %) is left


def test_roar_with_the_same_ranking_removes_the_label_pixels_first(space):
    base, _ = run_cell(space, None, Cell("pixels", BASELINE, 0, 1, 0), mode="roar", config=TINY_TRAINING)
    roar, _ = run_cell(space, keeps_informative(), Cell("pixels", "x", 20, 1, 0), mode="roar", config=TINY_TRAINING)
    assert (base - roar) * 100 >= 50.0


def test_a_cell_repeats_exactly_with_the_same_seed(space):
    cell = Cell("pixels", "random", 30, 1, 0)
    importance = np.random.default_rng(0).random(64)
    first = run_cell(space, importance, cell, mode="kar", config=TINY_TRAINING)[0]
    again = run_cell(space, importance, cell, mode="kar", config=TINY_TRAINING)[0]
    assert first == again


def test_blanking_unaugmented_data_once_trains_the_same_network_as_blanking_every_batch(space):
    keep = keep_mask(np.random.default_rng(1).random(64), 40)
    mask = FeatureMask(keep, space.means)
    per_batch = train(space.build_model(0), space.x_train, space.y_train, config=TINY_TRAINING, seed=0, transform=mask)
    once = train(space.build_model(0), mask(space.x_train), space.y_train, config=TINY_TRAINING, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(per_batch.parameters(), once.parameters()))
    expected = (per_batch(mask(space.x_test)).argmax(1).numpy() == space.y_test.numpy()).mean()
    assert train_cell(space, keep, 0, TINY_TRAINING) == pytest.approx(expected)


def test_the_cnn_retrains_on_masked_pixels_and_conv_features_are_its_second_block():
    from explainers.model import new_model

    rng = np.random.default_rng(0)

    class Data:
        x_train = rng.random((40, 784)).astype(np.float32)
        y_train = np.arange(40) % 10
        x_test = rng.random((20, 784)).astype(np.float32)
        y_test = np.arange(20) % 10

    pixels = pixel_space(Data)
    assert pixels.architecture == "cnn" and pixels.dim == 784
    acc = train_cell(pixels, keep_mask(rng.random(784), 50), 0, TrainConfig(epochs=1, batch_size=20))
    assert 0.0 <= acc <= 1.0
    conv = conv_space(Data, new_model(0).eval())
    assert conv.dim == 1600 and conv.architecture == "head"
    assert len(conv.x_test) == 20 and (conv.x_train >= 0).all()  # ReLU'd, max-pooled activations


def test_colour_images_are_shifted_while_retraining_the_cnn_and_conv_features_are_not():
    from explainers.model import new_model
    from kar.core.cells import shifts
    from tests.kar.tiny import RGB_SHAPE, rgb_data

    data = rgb_data()
    pixels, conv = pixel_space(data), conv_space(data, new_model(0, shape=RGB_SHAPE, n_classes=3).eval())
    config = TrainConfig(epochs=1, batch_size=8)
    assert shifts(pixels.build_model(0), pixels, config)
    assert not shifts(pixels.build_model(0), pixels, TrainConfig(epochs=1, shift=0))
    assert not shifts(conv.build_model(0), conv, config)
    for space in (pixels, conv):
        keep = keep_mask(np.random.default_rng(0).random(space.dim), 50)
        assert 0.0 <= train_cell(space, keep, 0, config) <= 1.0
