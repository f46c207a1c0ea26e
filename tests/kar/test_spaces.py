"""kar.core.spaces: the data a cell trains on, its blanking values and its noise units."""
from __future__ import annotations

import numpy as np
import pytest

from tests.kar.tiny import INFORMATIVE


def test_a_feature_space_blanks_with_its_training_means_not_the_test_ones(space):
    np.testing.assert_allclose(space.means.numpy(), space.x_train.numpy().astype(np.float64).mean(0), rtol=1e-6)
    assert space.means[INFORMATIVE].max() < 0.2  # ~1/10 of rows have each informative pixel on
    assert space.scale == pytest.approx(1.0, abs=1e-3)
