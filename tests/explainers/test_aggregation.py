"""NormLIME (Eq. 5, 9) and the SP-LIME norm (Eq. 6) against values worked out by hand."""

import numpy as np
import pytest

from explainers.methods import lime_sp, normlime

# Three local explanations over four features; rows 0 and 1 explain points the model calls 0,
# row 2 a point it calls 1. L1 norms: 3, 4, 1.
W = np.array(
    [
        [1.0, -2.0, 0.0, 0.0],
        [0.0, 1.0, 3.0, 0.0],
        [-1.0, 0.0, 0.0, 0.0],
    ]
)
LABELS = np.array([0, 0, 1])


def test_global_normlime_is_the_mean_of_squared_weight_over_l1_norm_among_explanations_using_the_feature():
    # |w_i|^2 / ||w||_1 per row: [1/3, 4/3, 0, 0], [0, 1/4, 9/4, 0], [1, 0, 0, 0]
    # feature 0: rows 0, 2 -> (1/3 + 1) / 2; feature 1: rows 0, 1 -> (4/3 + 1/4) / 2;
    # feature 2: row 1 -> 9/4; feature 3: nobody uses it -> 0
    expected = np.array([2 / 3, 19 / 24, 9 / 4, 0.0])
    np.testing.assert_allclose(normlime(W), expected)


def test_class_normlime_averages_only_over_explanations_of_that_class():
    expected = np.zeros((10, 4))
    expected[0] = [1 / 3, 19 / 24, 9 / 4, 0.0]  # rows 0 and 1
    expected[1] = [1.0, 0.0, 0.0, 0.0]  # row 2
    np.testing.assert_allclose(normlime(W, LABELS), expected)


def test_normlime_equals_the_matrix_form_of_eq_5():
    rng = np.random.default_rng(3)
    M = rng.normal(size=(30, 12)) * (rng.random((30, 12)) < 0.3)
    v = np.abs(M).sum(1)
    keep = v > 0
    expected = np.array(
        [(M[keep, i] @ np.diag(1 / v[keep]) @ M[keep, i]) / max(np.count_nonzero(M[:, i]), 1) for i in range(12)]
    )
    np.testing.assert_allclose(normlime(M), expected)


def test_class_scores_partition_the_global_score_as_eq_8_says():
    rng = np.random.default_rng(4)
    M = rng.normal(size=(60, 9)) * (rng.random((60, 9)) < 0.4)
    labels = rng.integers(0, 10, size=60)
    users = np.stack([np.count_nonzero(M[labels == y], axis=0) for y in range(10)])  # |E_y(c_i)|
    assert (users.sum(0) == np.count_nonzero(M, axis=0)).all()  # the E_y are disjoint and cover E
    per_class = normlime(M, labels)
    recombined = np.divide((users * per_class).sum(0), users.sum(0), out=np.zeros(9), where=users.sum(0) > 0)
    np.testing.assert_allclose(recombined, normlime(M))


def test_signed_normlime_takes_the_sign_of_the_mean_weight_of_the_features_users():
    signed = normlime(W, LABELS, signed=True)
    # class 0: feature 1 is used with -2 and 1 (mean -0.5) -> negative; class 1: feature 0 used with -1
    np.testing.assert_allclose(signed[0], [1 / 3, -19 / 24, 9 / 4, 0.0])
    np.testing.assert_allclose(signed[1], [-1.0, 0.0, 0.0, 0.0])


def test_unsigned_scores_are_never_negative():
    rng = np.random.default_rng(5)
    M = rng.normal(size=(40, 20)) * (rng.random((40, 20)) < 0.5)
    labels = rng.integers(0, 10, size=40)
    assert (normlime(M, labels) >= 0).all() and (lime_sp(M, labels) >= 0).all()


def test_lime_sp_is_the_l2_norm_of_each_column_per_class():
    expected = np.zeros((10, 4))
    expected[0] = [1.0, np.sqrt(5.0), 3.0, 0.0]
    expected[1] = [1.0, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(lime_sp(W, LABELS), expected)
    np.testing.assert_allclose(lime_sp(W), [np.sqrt(2.0), np.sqrt(5.0), 3.0, 0.0])
    np.testing.assert_allclose(lime_sp(W, LABELS, signed=True)[0], [1.0, -np.sqrt(5.0), 3.0, 0.0])


def test_an_explanation_with_no_weight_changes_nothing():
    with_empty = np.vstack([W, np.zeros(4)])
    np.testing.assert_allclose(normlime(with_empty), normlime(W))


def test_bad_inputs_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="labels has 2 entries for 3"):
        normlime(W, [0, 1])
    with pytest.raises(ValueError, match="labels must lie in 0..9"):
        lime_sp(W, [0, 0, 10])
    with pytest.raises(ValueError, match="2-D"):
        normlime(np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        normlime(np.array([[np.nan, 1.0]]))
