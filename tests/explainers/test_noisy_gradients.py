"""SmoothGrad-squared and VarGrad: hand-checkable cases, determinism and batching."""

import numpy as np
import pytest
import torch
from torch import nn

from explainers.methods import class_mean_maps, noise_tunnel, smoothgrad_sq, vargrad

W = np.array([[0.5, -2.0, 0.0, 3.0], [1.0, 1.0, 1.0, 1.0]])


def linear():
    model = nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        model.weight[:] = torch.tensor(W, dtype=torch.float32)
    return model


def test_smoothgrad_squared_of_a_linear_model_is_the_squared_weights():
    x = np.random.default_rng(0).random((3, 4))
    maps = smoothgrad_sq(linear(), x, [0, 0, 1], num_samples=20, seed=0)
    np.testing.assert_allclose(maps, np.stack([W[0] ** 2, W[0] ** 2, W[1] ** 2]), rtol=1e-6)


def test_vargrad_of_a_linear_model_is_zero():
    x = np.random.default_rng(1).random((3, 4))
    np.testing.assert_allclose(vargrad(linear(), x, [0, 1, 0], num_samples=20, seed=0), 0.0, atol=1e-12)


def test_vargrad_is_the_variance_of_the_absolute_gradient_over_the_noise():
    # f(x) = x0^2 / 2 has gradient x0 + eta at the noisy point; with x0 = 0 that is eta itself,
    # so VarGrad = Var(|eta|) and SmoothGrad^2 = E[eta^2], computed here from the same draws.
    class Square(nn.Module):
        def forward(self, x):
            return torch.stack([0.5 * x[:, 0] ** 2, x[:, 0]], 1)

    sigma, n = 0.3, 500
    maps = noise_tunnel(Square(), np.zeros((1, 1)), [0], num_samples=n, sigma=sigma, seed=5)
    from explainers.methods._common import instance_generator

    eta = sigma * torch.randn(n, 1, generator=instance_generator(5, 0)).double().numpy()[:, 0]
    assert maps.vargrad[0, 0] == pytest.approx(np.var(np.abs(eta)), rel=1e-5)
    assert maps.smoothgrad_sq[0, 0] == pytest.approx(np.mean(eta**2), rel=1e-5)
    assert maps.vargrad[0, 0] == pytest.approx(sigma**2 * (1 - 2 / np.pi), rel=0.15)  # the half-normal's variance


def test_seeded_runs_repeat_and_batching_does_not_matter():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    x = np.random.default_rng(2).random((5, 4))
    a = noise_tunnel(model, x, num_samples=30, seed=1, batch_size=7)
    b = noise_tunnel(model, x, num_samples=30, seed=1, batch_size=1000)
    np.testing.assert_allclose(a.smoothgrad_sq, b.smoothgrad_sq, rtol=1e-6)
    np.testing.assert_allclose(a.vargrad, b.vargrad, rtol=1e-5, atol=1e-12)
    c = noise_tunnel(model, x, num_samples=30, seed=1, batch_size=7)
    np.testing.assert_array_equal(a.vargrad, c.vargrad)


def test_class_maps_average_the_images_of_each_class():
    maps = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]])
    out = class_mean_maps(maps, [4, 4, 7])
    np.testing.assert_allclose(out[4], [2.0, 1.0])
    np.testing.assert_allclose(out[7], [5.0, 5.0])
    assert out.shape == (10, 2) and (out[[0, 1, 2, 3, 5, 6, 8, 9]] == 0).all()
