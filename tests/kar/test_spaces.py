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
