"""kar.core.spaces: the data a cell trains on, its blanking values and its noise units."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.kar.tiny import INFORMATIVE


def test_a_feature_space_blanks_with_its_training_means_not_the_test_ones(space):
    np.testing.assert_allclose(space.means.numpy(), space.x_train.numpy().astype(np.float64).mean(0), rtol=1e-6)
    assert space.means[INFORMATIVE].max() < 0.2  # ~1/10 of rows have each informative pixel on
    assert space.scale == pytest.approx(1.0, abs=1e-3)


def test_conv_features_are_the_second_blocks_outputs_in_fp32_whatever_precision_is_in_effect():
    from explainers.compute import Compute, using
    from explainers.model import new_model
    from kar.core.spaces import conv_features

    model = new_model(0).eval()
    x = torch.rand(30, 784, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain = model.features(x.reshape(-1, 1, 28, 28).contiguous())  # NCHW, no autocast
    with using(Compute(precision="bf16")):  # what a bf16 run has in effect; the features must not follow it
        features = conv_features(model, x, batch_size=7)
    assert features.shape == (30, 1600) and features.dtype == torch.float32
    torch.testing.assert_close(features, plain, rtol=1e-5, atol=1e-6)  # channels_last: equal up to float rounding


def test_the_pixel_space_of_colour_images_has_every_channels_value_as_a_feature_and_retrains_the_cnn_for_them():
    from kar.core.spaces import pixel_space
    from tests.kar.tiny import RGB_SHAPE, rgb_data

    space = pixel_space(rgb_data())
    assert space.dim == 3 * 12 * 16 and space.shape == RGB_SHAPE and space.n_classes == 3
    model = space.build_model(0)
    assert model.shape == RGB_SHAPE and model.n_classes == 3
    assert model(space.x_test).shape == (12, 3)
    described = space.describe()
    assert described["features"] == 576 and described["shape"] == [3, 12, 16] and described["classes"] == 3
    assert described["description"].startswith("576 input values (3 x 12 x 16)")


def test_the_conv_space_of_colour_images_is_the_cnns_conv_features_for_their_shape():
    from explainers.model import new_model
    from kar.core.spaces import conv_space
    from tests.kar.tiny import RGB_SHAPE, rgb_data

    model = new_model(0, shape=RGB_SHAPE, n_classes=3).eval()
    space = conv_space(rgb_data(), model)
    # 12 x 16 -> conv 10 x 14 -> pool 5 x 7 -> conv 3 x 5 -> pool 1 x 2, 64 channels: 128 features
    assert space.dim == 128 and space.shape == (64, 1, 2) and space.n_classes == 3
    with torch.no_grad():
        expected = model.features(torch.as_tensor(rgb_data().x_test).reshape(-1, *RGB_SHAPE))
    torch.testing.assert_close(space.x_test, expected, rtol=1e-5, atol=1e-6)
    head = space.build_model(0)
    assert head[0].in_features == 128 and head[-1].out_features == 3


def test_the_conv_space_refuses_a_model_that_is_not_the_papers_cnn_in_one_line():
    from kar.core.spaces import SpaceError, conv_space
    from tests.kar.tiny import rgb_data

    with pytest.raises(SpaceError, match="needs the paper's CNN") as info:
        conv_space(rgb_data(), torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(576, 3)))
    assert "\n" not in str(info.value)


def test_a_space_built_from_bare_arrays_counts_its_classes_from_the_labels(space):
    assert space.n_classes == 10 and space.shape is None and "shape" not in space.describe()
