import numpy as np
import pytest

from explainers.methods import random_importance


def test_the_same_seed_gives_the_same_ranking_and_another_seed_a_different_one():
    a, b, c = random_importance(784, 1), random_importance(784, 1), random_importance(784, 2)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (784,) and not np.array_equal(np.argsort(a), np.argsort(c))


def test_a_non_positive_size_is_refused():
    with pytest.raises(ValueError, match="num_features must be positive"):
        random_importance(0, 1)
