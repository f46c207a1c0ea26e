"""kar.core.masking: which features go at a threshold, and how they are blanked (by hand)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kar.core.masking import FeatureMask, keep_mask, mean_replace, num_removed, removal_order


def test_kar_removes_the_least_important_first_and_roar_the_most_important_first():
    importance = [0.3, 0.1, 0.5, 0.2]
    assert removal_order(importance, "kar").tolist() == [1, 3, 0, 2]
    assert removal_order(importance, "roar").tolist() == [2, 0, 3, 1]


def test_the_keep_mask_drops_the_threshold_share_of_features_in_removal_order():
    importance = [0.3, 0.1, 0.5, 0.2]
    assert keep_mask(importance, 50, "kar").tolist() == [True, False, True, False]
    assert keep_mask(importance, 25, "kar").tolist() == [True, False, True, True]
    assert keep_mask(importance, 75, "roar").tolist() == [False, True, False, False]


def test_the_number_removed_is_the_threshold_share_rounded_half_up():
    assert num_removed(784, 10) == 78
    assert num_removed(784, 50) == 392
    assert num_removed(1600, 90) == 1440
    assert num_removed(10, 25) == 3  # 2.5 rounds up
    with pytest.raises(ValueError):
        num_removed(10, 100)


def test_ties_are_broken_by_a_seeded_permutation_not_by_position():
    tied = np.zeros(50)
    assert removal_order(tied).tolist() == list(range(50))  # no seed: by index
    a = removal_order(tied, tiebreak_seed=3)
    assert a.tolist() == np.argsort(np.random.default_rng(3).permutation(50)).tolist()
    assert a.tolist() == removal_order(tied, tiebreak_seed=3).tolist()
    assert a.tolist() != removal_order(tied, tiebreak_seed=4).tolist()
    # ties never reorder features whose scores differ
    scores = np.array([2.0, 0.0, 1.0, 0.0, 0.0])
    assert removal_order(scores, tiebreak_seed=9)[3:].tolist() == [2, 0]


def test_a_ranking_with_nan_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        removal_order([0.1, np.nan])


def test_removed_features_take_their_training_mean_and_kept_ones_stay():
    x = np.array([[1.0, 2.0, 3.0], [3.0, 6.0, 5.0]], dtype=np.float32)
    means = x.mean(0)  # [2, 4, 4]
    keep = np.array([True, False, True])
    expected = np.array([[1.0, 4.0, 3.0], [3.0, 4.0, 5.0]], dtype=np.float32)
    np.testing.assert_array_equal(mean_replace(x, keep, means), expected)
    tensor = torch.as_tensor(x)
    np.testing.assert_array_equal(FeatureMask(keep, means)(tensor).numpy(), expected)
    assert tensor[0, 1] == 2.0  # the caller's batch is untouched
