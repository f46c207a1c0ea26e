"""Kernel SHAP against exact Shapley values enumerated over every ordering of the features."""

import itertools
import math

import numpy as np
import pytest
import torch

from explainers.methods import kernel_shap
from explainers.methods.shap import (
    UnderdeterminedError,
    patch_mask,
    patch_shap,
    recommended_samples,
    shapley_kernel_weight,
)


def game(x: torch.Tensor) -> torch.Tensor:
    """A function with interactions: x0*x1 + 2*x2 + x3^2 + x0*x2*x3 (class 0), its negative (class 1)."""
    v = x[:, 0] * x[:, 1] + 2 * x[:, 2] + x[:, 3] ** 2 + x[:, 0] * x[:, 2] * x[:, 3]
    return torch.stack([v, -v], 1)


def exact_shapley(x, background):
    d = len(x)

    def value(coalition):
        z = np.array([i in coalition for i in range(d)], dtype=float)
        point = z * x + (1 - z) * background
        return game(torch.tensor(point[None], dtype=torch.float32))[0, 0].item()

    phi = np.zeros(d)
    for order in itertools.permutations(range(d)):
        seen = set()
        for j in order:
            phi[j] += value(seen | {j}) - value(seen)
            seen.add(j)
    return phi / math.factorial(d)


X = np.array([[1.0, 2.0, 3.0, -1.0], [0.5, -1.0, 2.0, 2.0]])
BACKGROUND = np.array([0.5, 0.0, 1.0, 0.0])


def test_with_every_coalition_it_equals_the_exact_shapley_values():
    phi = kernel_shap(game, X, [0, 0], background=BACKGROUND, num_samples=14)
    for row, x in zip(phi, X):
        np.testing.assert_allclose(row, exact_shapley(x, BACKGROUND), atol=1e-5)


def test_a_hand_worked_additive_game_gives_each_feature_its_own_term():
    # For f(x) = 2*x2 alone the Shapley value of feature 2 is 2*(x2 - b2) = 2*(3 - 1) = 4.
    f = lambda x: torch.stack([2 * x[:, 2], x[:, 0]], 1)  # noqa: E731
    phi = kernel_shap(f, X[:1], [0], background=BACKGROUND, num_samples=14)
    np.testing.assert_allclose(phi[0], [0.0, 0.0, 4.0, 0.0], atol=1e-6)


def test_the_values_sum_to_the_prediction_minus_the_background_prediction():
    x = np.random.default_rng(0).random((2, 12))
    f = lambda t: torch.stack([torch.sin(t).sum(1) * t[:, 0], t.sum(1)], 1)  # noqa: E731
    phi = kernel_shap(f, x, [0, 0], background=np.zeros(12), num_samples=200, seed=3)
    fx = f(torch.tensor(x, dtype=torch.float32))[:, 0].numpy()
    np.testing.assert_allclose(phi.sum(1), fx - 0.0, rtol=1e-5)


def test_sampled_estimates_approach_the_exact_values():
    rng = np.random.default_rng(1)
    w = rng.normal(size=8)
    f = lambda t: torch.stack([t @ torch.tensor(w, dtype=torch.float32) + t[:, 0] * t[:, 1], t[:, 0]], 1)  # noqa: E731
    x = rng.random((1, 8))
    phi = kernel_shap(f, x, [0], background=np.zeros(8), num_samples=200, seed=0)  # < 2^8 - 2: sampled
    exact = w * x[0]
    exact[[0, 1]] += x[0, 0] * x[0, 1] / 2  # the interaction is shared equally
    np.testing.assert_allclose(phi[0], exact, atol=0.05)


def test_a_background_of_several_rows_averages_the_model_over_them():
    bg = np.stack([BACKGROUND, BACKGROUND + 1.0])
    phi = kernel_shap(game, X[:1], [0], background=bg, num_samples=14)
    expected = (exact_shapley(X[0], bg[0]) + exact_shapley(X[0], bg[1])) / 2  # Shapley values are linear in v
    np.testing.assert_allclose(phi[0], expected, atol=1e-5)


def test_seeded_runs_repeat_exactly():
    x = np.random.default_rng(2).random((2, 10))
    f = lambda t: torch.stack([(t**2).sum(1), t[:, 0]], 1)  # noqa: E731
    a = kernel_shap(f, x, [0, 0], background=np.zeros(10), num_samples=64, seed=4)
    b = kernel_shap(f, x, [0, 0], background=np.zeros(10), num_samples=64, seed=4, batch_size=5)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_the_shapley_kernel_weight_matches_its_formula():
    assert shapley_kernel_weight(4, 1) == pytest.approx(3 / (4 * 1 * 3))
    assert shapley_kernel_weight(4, 2) == pytest.approx(3 / (6 * 2 * 2))


def linear(w):
    weights = torch.tensor(w, dtype=torch.float32)
    return lambda t: torch.stack([t @ weights, -(t @ weights)], 1)


def test_on_a_linear_game_each_feature_gets_its_weight_times_its_change():
    # f(x) = w.x against background b: phi_i = w_i (x_i - b_i) exactly, here for 40 sampled players.
    d = 40
    w = np.arange(1, d + 1) / 10 * np.where(np.arange(d) % 2, 1, -1)
    x = np.ones((1, d))
    b = np.full(d, 0.5)
    phi = kernel_shap(linear(w), x, [0], background=b, num_samples=recommended_samples(d), seed=0)
    np.testing.assert_allclose(phi[0], w * 0.5, atol=1e-4)


def test_grouped_features_share_their_groups_value():
    # f = 2 x0 + 3 x1 - x2 + 0.5 x3, x = 1, b = 0; groups {0, 1} and {2, 3}: group values 5 and -0.5.
    phi = kernel_shap(
        linear([2.0, 3.0, -1.0, 0.5]),
        np.ones((1, 4)),
        [0],
        background=np.zeros(4),
        num_samples=14,
        feature_mask=[0, 0, 1, 1],
    )
    np.testing.assert_allclose(phi[0], [5.0, 5.0, -0.5, -0.5], atol=1e-6)


def test_an_underdetermined_budget_is_refused_with_the_budget_needed():
    f = linear(np.ones(784))
    with pytest.raises(UnderdeterminedError, match=r"use num_samples >= 3616 \(2d \+ 2048\)") as error:
        kernel_shap(f, np.ones((1, 784)), [0], background=np.zeros(784), num_samples=512)
    assert "\n" not in str(error.value)


def test_the_old_minimum_norm_solve_is_kept_only_when_asked_for(caplog):
    f = linear(np.ones(30))
    phi = kernel_shap(f, np.ones((1, 30)), [0], background=np.zeros(30), num_samples=20, allow_underdetermined=True)
    assert phi.shape == (1, 30) and "cannot determine 30 Shapley values" in caplog.text


def test_patches_of_two_by_two_pixels_number_196_players_row_major():
    mask = patch_mask(2)
    assert mask.shape == (784,) and mask.max() == 195
    assert mask[[0, 1, 28, 29]].tolist() == [0, 0, 0, 0]
    assert mask[2] == 1 and mask[56] == 14 and mask[783] == 195
    with pytest.raises(ValueError, match="positive divisor of 28"):
        patch_mask(3)


def test_patch_shap_uses_the_determined_budget_for_its_patches():
    w = np.random.default_rng(0).normal(size=784)
    x = np.random.default_rng(1).random((1, 784))
    phi = patch_shap(linear(w), x, [0], patch=4, background=np.zeros(784))
    group = patch_mask(4)
    expected = np.bincount(group, weights=w * x[0])[group]  # each pixel gets its 4x4 patch's total
    np.testing.assert_allclose(phi[0], expected, atol=1e-3)


def test_a_drawn_coalition_keeps_the_features_whose_keys_rank_below_its_size():
    from explainers.methods.shap import _sampled_coalitions

    Z, w = _sampled_coalitions(40, 64, torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)  # the same draws, ranked by sorting twice (the definition)
    sizes = np.arange(1, 40)
    p = torch.as_tensor((39 / (sizes * (40 - sizes))) / (39 / (sizes * (40 - sizes))).sum())
    drawn = sizes[torch.multinomial(p, 32, replacement=True, generator=gen).numpy()]
    ranks = torch.rand(32, 40, generator=gen).argsort(1).argsort(1).numpy()
    expected = (ranks < drawn[:, None]).astype(float)
    np.testing.assert_array_equal(Z, np.concatenate([expected, 1 - expected]))
    assert Z[:32].sum(1).tolist() == drawn.tolist() and np.all(w == 1)


def test_paired_coalitions_give_the_same_normal_equations_from_half_the_rows():
    from explainers.methods.shap import _normal_equations, _sampled_coalitions

    Z, w = _sampled_coalitions(50, 200, torch.Generator().manual_seed(0))
    A = Z[:, :-1] - Z[:, -1:]
    b = np.random.default_rng(0).normal(size=len(Z))
    gram, rhs = _normal_equations(A, w, b, paired=True)
    np.testing.assert_array_equal(gram, A.T @ A)  # integers, exact in float32
    np.testing.assert_allclose(rhs, A.T @ b, rtol=1e-12, atol=1e-12)


def test_rows_that_are_not_complementary_pairs_take_the_general_product():
    from explainers.methods.shap import _normal_equations

    A = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])  # row 3 is not row 1's negation
    w, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 4.0])
    gram, rhs = _normal_equations(A, w, b, paired=True)
    np.testing.assert_array_equal(gram, [[8.0, 3.0], [3.0, 5.0]])  # sum of w_i a_i a_i', by hand
    np.testing.assert_array_equal(rhs, [-6.0, 13.0])  # sum of w_i b_i a_i: 1 + 9 - 16, 4 + 9


def test_patches_of_a_colour_image_cover_every_channel_of_their_pixels():
    mask = patch_mask(2, (3, 4, 6))  # 2 x 3 patches, each of 2 x 2 pixels in all three channels
    assert mask.shape == (72,) and mask.max() == 5
    first = mask[:24].reshape(4, 6)
    assert first.tolist() == [[0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2], [3, 3, 4, 4, 5, 5], [3, 3, 4, 4, 5, 5]]
    assert mask[24:48].tolist() == mask[:24].tolist() == mask[48:].tolist()
    with pytest.raises(ValueError, match="positive divisor of both 4 and 6"):
        patch_mask(4, (3, 4, 6))


def test_patch_shap_of_a_colour_image_gives_each_channel_its_patchs_total():
    shape = (3, 4, 6)
    w = np.random.default_rng(0).normal(size=72)
    x = np.random.default_rng(1).random((1, 72))
    phi = patch_shap(linear(w), x, [0], patch=2, shape=shape, background=np.zeros(72))
    group = patch_mask(2, shape)
    expected = np.bincount(group, weights=w * x[0])[group]  # 6 players: every coalition enumerated, exact
    np.testing.assert_allclose(phi[0], expected, atol=1e-6)
