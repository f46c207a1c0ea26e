"""lime_local: recovery of a known sparse linear model, the LASSO path, determinism, batching."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import lars_path
from torch import nn

from explainers.methods import lime_local
from explainers.methods._common import instance_generator
from explainers.methods.lime import lars_lasso, lasso_select_refit, lime_kernel, weighted_sparse_fit

D = 30
TRUE = np.zeros(D)
TRUE[[2, 7, 11, 19, 25]] = [3.0, -2.0, 1.5, -1.0, 0.8]


def linear_model(weights=TRUE) -> nn.Module:
    """Two outputs: class 0 is w.x + 0.5, class 1 its negative."""
    model = nn.Linear(D, 2).double()
    with torch.no_grad():
        model.weight[:] = torch.tensor(np.stack([weights, -weights]))
        model.bias[:] = torch.tensor([0.5, -0.5])
    return model.float()


def small_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(D, 16), nn.Tanh(), nn.Linear(16, 3), nn.Softmax(dim=1)).eval()


def test_it_recovers_the_features_and_signs_of_a_sparse_linear_model():
    x = np.random.default_rng(0).random((3, D))
    W = lime_local(linear_model(), x, [0, 0, 1], num_samples=400, num_features=5, sigma=0.2, seed=1)
    for row, sign in zip(W, [1, 1, -1]):
        assert set(np.flatnonzero(row)) == {2, 7, 11, 19, 25}
        np.testing.assert_allclose(row, sign * TRUE, atol=1e-4)


def test_it_returns_at_most_k_non_zero_weights_per_instance():
    x = np.random.default_rng(1).random((4, D))
    W = lime_local(small_mlp(), x, num_samples=300, num_features=6, seed=0)
    assert W.shape == (4, D)
    assert ((W != 0).sum(1) == 6).all()


def test_the_first_k_features_on_the_lasso_path_match_scikit_learns_lars_path():
    rng = np.random.default_rng(0)
    B, s, d, k = 5, 60, 30, 8
    X = rng.normal(size=(B, s, d))
    X -= X.mean(1, keepdims=True)
    beta = np.zeros((B, d))
    beta[:, :6] = rng.normal(size=(B, 6)) * 3
    y = np.einsum("bsd,bd->bs", X, beta) + rng.normal(size=(B, s))
    y -= y.mean(1, keepdims=True)
    slots, _, _ = lars_lasso(torch.tensor(X), torch.tensor(y), k)
    for b in range(B):
        _, _, coefs = lars_path(X[b], y[b], method="lasso")
        first_with_k = np.argmax((coefs != 0).sum(0) >= k)
        assert set(slots[b].tolist()) == set(np.flatnonzero(coefs[:, first_with_k]).tolist())


def test_the_refit_is_ordinary_least_squares_on_the_selected_features():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2, 50, 12))
    X -= X.mean(1, keepdims=True)
    y = rng.normal(size=(2, 50))
    y -= y.mean(1, keepdims=True)
    W = lasso_select_refit(torch.tensor(X), torch.tensor(y), 4).numpy()
    for b in range(2):
        S = np.flatnonzero(W[b])
        assert len(S) == 4
        ref, *_ = np.linalg.lstsq(X[b][:, S], y[b], rcond=None)
        np.testing.assert_allclose(W[b, S], ref, rtol=1e-10)


def test_the_kernel_weights_the_squared_loss():
    # Two clusters of samples disagree about the slope; the kernel decides which one wins.
    Z = torch.tensor([[[0.0], [1.0], [0.0], [1.0]]], dtype=torch.float64)
    y = torch.tensor([[0.0, 1.0, 0.0, -1.0]], dtype=torch.float64)
    near = torch.tensor([[1.0, 1.0, 1e-9, 1e-9]], dtype=torch.float64)
    far = torch.tensor([[1e-9, 1e-9, 1.0, 1.0]], dtype=torch.float64)
    assert weighted_sparse_fit(Z, y, near, 1).item() == pytest.approx(1.0, abs=1e-6)
    assert weighted_sparse_fit(Z, y, far, 1).item() == pytest.approx(-1.0, abs=1e-6)


def test_the_kernel_is_limes_square_root_of_the_gaussian():
    # d^2 = 2, width 1: sqrt(exp(-2)) = exp(-1); at d = 0 the weight is 1.
    weights = lime_kernel(torch.tensor([0.0, 2.0], dtype=torch.float64), 1.0)
    np.testing.assert_allclose(weights.numpy(), [1.0, np.exp(-1.0)], rtol=1e-15)


def test_the_kernel_weights_equal_those_of_the_lime_package_for_the_same_distances_and_width():
    from lime.lime_tabular import LimeTabularExplainer

    distances = np.linspace(0.0, 12.0, 25)
    for width in (0.5, 3.0, 0.75 * np.sqrt(784) * 0.25):
        theirs = LimeTabularExplainer(np.zeros((2, 3)), kernel_width=width).base.kernel_fn(distances)
        ours = lime_kernel(torch.tensor(distances**2), width).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_lime_local_weights_its_samples_with_limes_kernel():
    # Rebuild the pipeline from the same draws by hand, once with lime's kernel and once with the old
    # exp(-d^2 / w^2): a narrow width makes the two differ, and lime_local must match lime's.
    x = np.random.default_rng(6).random((1, D)).astype(np.float32)
    sigma, width, s, k = 0.25, 0.9, 200, 4
    model = small_mlp()
    target = int(model(torch.tensor(x)).argmax())
    noise = sigma * torch.randn(s, D, generator=instance_generator(2, 0))
    with torch.no_grad():
        y = model(torch.tensor(x) + noise)[:, target].double()
    sq = noise.double().pow(2).sum(1)

    def fit(kernel):
        return weighted_sparse_fit(noise[None], y[None], kernel[None], k)[0].numpy()

    ours = lime_local(model, x, num_samples=s, sigma=sigma, kernel_width=width, num_features=k, seed=2)[0]
    np.testing.assert_allclose(ours, fit(torch.sqrt(torch.exp(-sq / width**2))), rtol=1e-6, atol=1e-9)
    assert not np.allclose(ours, fit(torch.exp(-sq / width**2)), rtol=1e-3)


def test_a_constant_model_gets_an_empty_explanation():
    class Constant(nn.Module):
        def forward(self, x):
            return torch.ones(len(x), 2) * 0.5

    W = lime_local(Constant(), np.zeros((2, D)), num_samples=50, num_features=3, seed=0)
    assert (W == 0).all()


def test_seeded_runs_repeat_exactly_and_other_seeds_differ():
    x = np.random.default_rng(3).random((3, D))
    a = lime_local(small_mlp(), x, num_samples=200, num_features=5, seed=7)
    b = lime_local(small_mlp(), x, num_samples=200, num_features=5, seed=7)
    c = lime_local(small_mlp(), x, num_samples=200, num_features=5, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_batched_and_unbatched_calls_agree():
    x = np.random.default_rng(4).random((5, D))
    one = lime_local(small_mlp(), x, num_samples=200, num_features=5, seed=3, batch_size=1)
    many = lime_local(small_mlp(), x, num_samples=200, num_features=5, seed=3, batch_size=1000)
    np.testing.assert_allclose(one, many, rtol=1e-5, atol=1e-9)


def test_an_instance_gets_the_same_explanation_alone_or_in_a_larger_call_when_keyed_by_id():
    x = np.random.default_rng(5).random((4, D))
    together = lime_local(small_mlp(), x, num_samples=200, num_features=5, seed=3, instance_ids=[10, 11, 12, 13])
    alone = lime_local(small_mlp(), x[2:3], num_samples=200, num_features=5, seed=3, instance_ids=[12])
    np.testing.assert_allclose(alone[0], together[2], rtol=1e-5, atol=1e-9)


def test_the_callers_tensor_is_left_untouched():
    x = torch.rand(2, D)
    before = x.clone()
    lime_local(small_mlp(), x, num_samples=100, num_features=3, seed=0)
    assert torch.equal(x, before)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="num_samples must be positive"):
        lime_local(small_mlp(), np.zeros((1, D)), num_samples=0)
    with pytest.raises(ValueError, match="targets has 2 entries for 1 inputs"):
        lime_local(small_mlp(), np.zeros((1, D)), [0, 1], num_samples=10)


def test_more_features_than_samples_selects_at_most_samples_minus_one_without_failing():
    from explainers.model import new_model, probabilities

    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    W = lime_local(probabilities(new_model(0)), x, num_samples=30, num_features=200, seed=0)
    assert ((W != 0).sum(1) <= 29).all() and np.isfinite(W).all()
