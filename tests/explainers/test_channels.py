"""explainers.methods.channels: colour attributions become one-channel maps by each method's rule."""

import numpy as np
import pytest

from explainers.methods.channels import to_pixels
from explainers.methods.registry import Channels

# one image of 3 channels x 1 x 2 pixels, channel-major: channel 0 = (1, -5), 1 = (2, 4), 2 = (-3, 0)
ROW = np.array([[1.0, -5.0, 2.0, 4.0, -3.0, 0.0]])


def test_the_sum_rule_adds_a_pixels_channels():
    np.testing.assert_array_equal(to_pixels(ROW, (3, 1, 2), Channels.SUM), [[0.0, -1.0]])


def test_the_max_rule_takes_a_pixels_largest_channel():
    np.testing.assert_array_equal(to_pixels(ROW, (3, 1, 2), Channels.MAX), [[2.0, 4.0]])


def test_the_shared_rule_reads_the_value_every_channel_holds():
    shared = np.tile([[7.0, 8.0]], 3)
    np.testing.assert_array_equal(to_pixels(shared, (3, 1, 2), Channels.SHARED), [[7.0, 8.0]])


def test_one_channel_rows_are_returned_as_they_are():
    rows = np.random.default_rng(0).normal(size=(4, 12))
    for rule in Channels:
        assert to_pixels(rows, (1, 3, 4), rule) is rows


def test_rows_of_another_size_are_refused():
    with pytest.raises(ValueError, match="rows of 6 values for images of 3 x 2 x 2"):
        to_pixels(ROW, (3, 2, 2), Channels.SUM)
    with pytest.raises(ValueError, match="rows of 6 values for 1 x 2 maps"):
        to_pixels(ROW, (3, 1, 2), Channels.NONE)
