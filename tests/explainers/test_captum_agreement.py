"""Our gradient and Shapley methods against Captum (a test-only dependency), on the paper's CNN.

The comparisons are in :mod:`tests.explainers.captum_reference`; the table of the docs comes from
``benchmarks/captum_agreement.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients, NoiseTunnel

from explainers.methods import integrated_gradients
from explainers.methods._common import instance_generator
from tests.explainers.captum_reference import (
    NUM_SAMPLES,
    SEED,
    SIGMA,
    TOLERANCE,
    captum_noise_tunnel,
    compare_integrated_gradients,
    compare_kernel_shap,
    compare_noise_tunnel,
    relative_difference,
)


@pytest.fixture(scope="module")
def setting(tiny_mnist_dir, tiny_model_path):
    """The suite's small trained CNN as f = softmax(logits), four test digits and the mean training image."""
    from explainers.data import load_mnist
    from explainers.model import load_checkpoint, probabilities

    data = load_mnist(tiny_mnist_dir)
    f = probabilities(load_checkpoint(tiny_model_path))
    return f, data.x_test[:4], data.y_test[:4], data.x_train.mean(0).astype(np.float32)


def test_captum_draws_the_same_noise_as_our_noise_tunnel_when_seeded_with_our_instance_seed(setting, monkeypatch):
    f, x, targets, _ = setting
    noisy_points = []
    original = NoiseTunnel._add_noise_to_input

    def record(inp, stdev, n):
        noisy_points.append(original(inp, stdev, n))
        return noisy_points[-1]

    monkeypatch.setattr(NoiseTunnel, "_add_noise_to_input", staticmethod(record))
    captum_noise_tunnel(f, x[:2], targets[:2], "smoothgrad_sq")
    assert len(noisy_points) == 2
    for i, points in enumerate(noisy_points):
        # the points our noise_tunnel differentiates: x + sigma * randn from the instance's generator
        ours = torch.as_tensor(x[i]) + SIGMA * torch.randn(NUM_SAMPLES, 784, generator=instance_generator(SEED, i))
        assert torch.equal(points.reshape(NUM_SAMPLES, 784), ours)


def test_smoothgrad_squared_and_vargrad_agree_with_captums_noise_tunnel(setting):
    f, x, targets, _ = setting
    for name, difference in compare_noise_tunnel(f, x, targets).items():
        assert difference < TOLERANCE, name


@pytest.mark.parametrize("rule, steps", [("gausslegendre", 64), ("riemann_trapezoid", 50), ("riemann_left", 20)])
@pytest.mark.parametrize("baseline", ["black", "mean"])
def test_integrated_gradients_agree_with_captum_for_the_same_steps_and_rule(setting, rule, steps, baseline):
    f, x, targets, mean_image = setting
    b = mean_image if baseline == "mean" else np.zeros(784, dtype=np.float32)
    assert compare_integrated_gradients(f, x, targets, b, steps, rule) < TOLERANCE


def test_the_comparison_can_fail_when_the_rules_differ(setting):
    f, x, targets, _ = setting
    ours = integrated_gradients(f, x, targets, steps=8, rule="riemann_left")
    theirs = IntegratedGradients(f).attribute(torch.as_tensor(x), target=torch.as_tensor(targets), n_steps=8)
    assert relative_difference(ours, theirs.double().numpy()) > 1e-3


def test_exact_kernel_shap_agrees_with_captums_regression_over_every_coalition(setting):
    f, x, targets, mean_image = setting
    assert compare_kernel_shap(f, x[:2], targets[:2], mean_image) < TOLERANCE
