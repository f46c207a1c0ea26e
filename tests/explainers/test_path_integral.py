"""Integrated Gradients: closed forms on tiny models, the quadrature rules, completeness on the paper's CNN."""

import numpy as np
import pytest
import torch
from torch import nn

from explainers.methods import class_mean_maps, integrated_gradients, integrated_gradients_class_maps
from explainers.methods.path_integral import DEFAULT_RULE, baseline_image, quadrature

W = np.array([[0.5, -2.0, 0.0, 3.0], [1.0, 1.0, 1.0, 1.0]])


def linear():
    model = nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        model.weight[:] = torch.tensor(W, dtype=torch.float32)
    return model


class Product(nn.Module):
    """Class 0: x0 * x1; class 1: x0 ** 3."""

    def forward(self, x):
        return torch.stack([x[:, 0] * x[:, 1], x[:, 0] ** 3], 1)


def test_the_default_rule_is_captums_gauss_legendre():
    assert DEFAULT_RULE == "gausslegendre"


def test_gauss_legendre_with_two_nodes_has_its_textbook_nodes_and_weights():
    nodes, weights = quadrature(2, "gausslegendre")
    np.testing.assert_allclose(nodes, [0.5 - 0.5 / np.sqrt(3), 0.5 + 0.5 / np.sqrt(3)])
    np.testing.assert_allclose(weights, [0.5, 0.5])


def test_the_trapezoid_rule_halves_the_end_weights():
    nodes, weights = quadrature(3, "riemann_trapezoid")
    np.testing.assert_allclose(nodes, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(weights, [1 / 6, 1 / 3, 1 / 6])


def test_of_a_linear_model_it_is_the_weight_times_the_distance_from_the_baseline():
    x = np.random.default_rng(0).random((3, 4))
    b = np.array([0.1, 0.2, 0.3, 0.4])
    ig = integrated_gradients(linear(), x, [0, 1, 0], baseline=b, steps=5)
    np.testing.assert_allclose(ig, np.stack([W[0], W[1], W[0]]) * (x - b), rtol=1e-6)


def test_of_a_product_it_splits_the_product_equally_between_the_two_factors():
    # grad_0 f(a x) = a x1, and integral_0^1 a da = 1/2, so IG_0 = IG_1 = x0 x1 / 2 (baseline 0).
    ig = integrated_gradients(Product(), np.array([[2.0, 3.0]]), [0], steps=1)
    np.testing.assert_allclose(ig, [[3.0, 3.0]], rtol=1e-6)


def test_the_left_riemann_sum_underestimates_the_product_by_its_known_amount():
    # Left nodes k/m, k = 0..m-1: sum_k (k/m) / m = (m - 1) / (2m) = 3/8 for m = 4, so IG_0 = 6 * 3/8.
    ig = integrated_gradients(Product(), np.array([[2.0, 3.0]]), [0], steps=4, rule="riemann_left")
    np.testing.assert_allclose(ig, [[2.25, 2.25]], rtol=1e-6)


def test_two_gauss_legendre_nodes_integrate_a_cubic_exactly_where_the_midpoint_rule_does_not():
    # f = x0^3 from 0: IG_0 = x0^3 * integral 3a^2 da = x0^3 = 8; midpoints 1/4, 3/4 give 8 * 3 (1/16 + 9/16) / 2.
    x = np.array([[2.0, 5.0]])
    assert integrated_gradients(Product(), x, [1], steps=2)[0, 0] == pytest.approx(8.0, rel=1e-6)
    mid = integrated_gradients(Product(), x, [1], steps=2, rule="riemann_middle")[0, 0]
    assert mid == pytest.approx(8 * 15 / 16, rel=1e-6)


def test_the_mean_baseline_is_the_mean_training_image():
    x_train = np.random.default_rng(1).random((6, 4))
    np.testing.assert_allclose(baseline_image("mean", x_train), x_train.mean(0))
    np.testing.assert_array_equal(baseline_image("black", x_train), np.zeros(4))
    assert baseline_image("black").shape == (784,)
    x = np.random.default_rng(2).random((2, 4))
    ig = integrated_gradients(linear(), x, [0, 0], baseline=baseline_image("mean", x_train))
    np.testing.assert_allclose(ig, W[0] * (x - x_train.mean(0)), rtol=1e-5, atol=1e-7)


def test_each_input_may_have_its_own_baseline():
    x = np.random.default_rng(3).random((2, 4))
    b = np.random.default_rng(4).random((2, 4))
    ig = integrated_gradients(linear(), x, [1, 1], baseline=b)
    np.testing.assert_allclose(ig, W[1] * (x - b), rtol=1e-5, atol=1e-7)


def completeness_errors(model, x, targets, baseline, steps):
    """(sum_i IG_i - gain, gain) per image, where gain = f(x)[target] - f(baseline)[target]."""
    ig = integrated_gradients(model, x, targets, baseline=baseline, steps=steps)
    b = torch.as_tensor(np.broadcast_to(baseline, x.shape).copy(), dtype=torch.float32)
    with torch.no_grad():
        gain = (model(torch.as_tensor(x)) - model(b)).gather(1, torch.as_tensor(targets)[:, None])[:, 0]
    gain = gain.double().numpy()
    return ig.sum(1) - gain, gain


@pytest.mark.parametrize("baseline", ["black", "mean"])
def test_attributions_sum_to_the_output_gain_within_one_percent_at_64_steps(tiny_mnist_dir, tiny_model_path, baseline):
    # The quadrature error of a ReLU network's path integral is a few 1e-4 in absolute terms: 1 % of
    # the gain for every image whose gain is not itself that small, and a small absolute error for the rest.
    from explainers.data import load_mnist
    from explainers.model import load_checkpoint, probabilities

    data = load_mnist(tiny_mnist_dir)
    f = probabilities(load_checkpoint(tiny_model_path))
    x, y = data.x_test[:20], data.y_test[:20]
    error, gain = completeness_errors(f, x, y, baseline_image(baseline, data.x_train), steps=64)
    clear = np.abs(gain) >= 0.05
    assert clear.sum() >= 10
    assert (np.abs(error[clear] / gain[clear]) < 0.01).all()
    assert (np.abs(error) < 2e-3).all()


def test_batching_does_not_change_the_result_and_progress_counts_every_image():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    x = np.random.default_rng(6).random((5, 4))
    seen = []
    small = integrated_gradients(model, x, steps=16, batch_size=7, progress=seen.append)
    large = integrated_gradients(model, x, steps=16, batch_size=1000)
    np.testing.assert_allclose(small, large, rtol=1e-6, atol=1e-9)
    assert sum(seen) == 5


def test_targets_default_to_the_prediction():
    x = np.array([[1.0, 0.0, 0.0, 0.0]])  # class 1 scores 1.0 > class 0's 0.5
    np.testing.assert_allclose(integrated_gradients(linear(), x), integrated_gradients(linear(), x, [1]))


def test_the_callers_tensors_are_left_untouched():
    x, b = torch.rand(2, 4), torch.rand(4)
    before_x, before_b = x.clone(), b.clone()
    integrated_gradients(linear(), x, [0, 1], baseline=b, steps=4)
    assert torch.equal(x, before_x) and torch.equal(b, before_b)


def test_class_maps_average_each_class_explained_for_its_own_label():
    x = np.random.default_rng(7).random((4, 4))
    labels = np.array([1, 0, 1, 1])
    maps = integrated_gradients_class_maps(linear(), x, labels, num_classes=3, steps=2)
    assert maps.shape == (3, 4)
    np.testing.assert_allclose(maps[1], W[1] * x[[0, 2, 3]].mean(0), rtol=1e-5)
    np.testing.assert_allclose(maps[0], W[0] * x[1], rtol=1e-5)
    assert (maps[2] == 0).all()  # a class with no image


def test_class_maps_are_the_shared_class_mean_of_the_per_image_maps():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 10))
    x = np.random.default_rng(8).random((6, 4))
    labels = np.array([2, 2, 5, 7, 5, 2])
    expected = class_mean_maps(integrated_gradients(model, x, labels, steps=8), labels)
    np.testing.assert_allclose(integrated_gradients_class_maps(model, x, labels, steps=8), expected)


def test_bad_parameters_are_refused_in_one_line():
    x = np.zeros((1, 4))
    with pytest.raises(ValueError, match="unknown integration rule 'simpson'"):
        integrated_gradients(linear(), x, [0], rule="simpson")
    with pytest.raises(ValueError, match="steps must be positive"):
        integrated_gradients(linear(), x, [0], steps=0)
    with pytest.raises(ValueError, match="Riemann rules need at least 2 steps"):
        integrated_gradients(linear(), x, [0], steps=1, rule="riemann_left")
    with pytest.raises(ValueError, match=r"baseline 'mean': pass 'black' or an image"):
        integrated_gradients(linear(), x, [0], baseline="mean")
    with pytest.raises(ValueError, match="the baseline has 3 values; expected 4"):
        integrated_gradients(linear(), x, [0], baseline=np.zeros(3))
    with pytest.raises(ValueError, match="unknown baseline 'white'"):
        baseline_image("white")
    with pytest.raises(ValueError, match="needs the training images"):
        baseline_image("mean")
