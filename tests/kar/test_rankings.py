"""kar.core.rankings: every method ranks every feature; the informed ones find the label pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from explainers.data import sample_per_class
from explainers.methods import registry
from explainers.methods.registry import Source
from kar.core.errors import KarError
from kar.core.rankings import RankingConfig, cell_importance, compute_rankings, shap_budget
from kar.core.spaces import FeatureSpace
from tests.kar.tiny import INFORMATIVE, TINY_RANKING

METHODS = registry.names(kar=True)


def test_every_method_ranks_every_feature_and_the_informed_ones_find_the_label_pixels(space, explained):
    rankings, sources = compute_rankings(
        {"pixels": space}, {"pixels": explained}, METHODS, config=TINY_RANKING, seeds={1: 0}
    )
    assert set(rankings) == {f"pixels/{m}/1" for m in METHODS}
    for key, scores in rankings.items():
        assert scores.shape == (64,) and np.isfinite(scores).all() and (scores >= 0).all(), key
        assert sources[key]["seconds"] >= 0
    for method in ("normlime", "lime", "smoothgrad", "vargrad", "shap", "ig"):
        top = np.argsort(-rankings[f"pixels/{method}/1"])[:10]
        assert len(set(top) & set(INFORMATIVE)) >= 8, method
    # NormLIME and LIME share one set of local explanations, and say how many features none selected
    assert sources["pixels/normlime/1"]["explanations"] == sources["pixels/lime/1"]["explanations"] == 20
    assert sources["pixels/normlime/1"]["never_selected"] == sources["pixels/lime/1"]["never_selected"] >= 0


def test_every_method_explains_the_same_images_by_true_label(space, explained):
    _, sources = compute_rankings({"pixels": space}, {"pixels": explained}, METHODS, config=TINY_RANKING, seeds={1: 0})
    informed = [m for m in METHODS if registry.get(m).source is not Source.RANDOM]
    assert {(sources[f"pixels/{m}/1"]["images"], sources[f"pixels/{m}/1"]["target"]) for m in informed} == {
        (20, "true label")
    }


def test_kar_ranks_with_the_methods_that_opt_in_and_ig_is_one_of_them():
    assert METHODS == tuple(m.name for m in registry.METHODS if m.kar) and "ig" in METHODS


def linear_game(d: int, seed: int):
    """f(x) = softmax-free linear scores; class 0's Shapley values against background b are w * (x - b)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d)
    model = torch.nn.Linear(d, 2, bias=False)
    with torch.no_grad():
        model.weight[:] = torch.as_tensor(np.stack([w, -w]), dtype=torch.float32)
    return model, w


def test_the_default_shap_budget_ranks_a_linear_game_like_its_shapley_values():
    # 200 features, 10 images of class 0: the default budget (2d + 2048) determines the least squares.
    d = 200
    model, w = linear_game(d, 0)
    rng = np.random.default_rng(1)
    x = rng.random((40, d)).astype(np.float32)
    y = np.zeros(40, dtype=np.int64)
    y[20:] = 1  # the second class's images are explained for class 1: the same |phi|
    space = FeatureSpace("pixels", "head", x, y, x[:4], y[:4])
    config = RankingConfig(per_class=10)
    rankings, sources = compute_rankings({"pixels": space}, {"pixels": model}, ["shap"], config=config, seeds={1: 0})
    truth = np.abs(w[None] * (x[sample_per_class(y, 10, 0)] - space.means.numpy()[None])).mean(0)
    assert sources["pixels/shap/1"]["num_samples"] == shap_budget(d) == 2 * d + 2048
    assert spearmanr(rankings["pixels/shap/1"], truth).statistic >= 0.95


def test_an_underdetermined_shap_budget_is_an_error_naming_the_budget_needed(space, explained):
    config = RankingConfig(per_class=1, shap_samples=100)
    with pytest.raises(KarError, match=r"100 coalitions cannot determine 64 Shapley values; use --shap-samples 2176"):
        compute_rankings({"pixels": space}, {"pixels": explained}, ["shap"], config=config, seeds={1: 0})


def test_conv_noise_is_in_each_features_own_standard_deviation(explained):
    # Two features: one with sd 1, one with sd 100. With noise in each feature's units, SmoothGrad of a model
    # that reads both equally sees both; the maps come back in the features' own units.
    rng = np.random.default_rng(0)
    x = np.stack([rng.normal(0, 1, 200), rng.normal(0, 100, 200)], axis=1).astype(np.float32)
    y = np.arange(200) % 2
    space = FeatureSpace("conv", "head", x, y, x[:10], y[:10], noise="std")
    np.testing.assert_allclose(space.noise_unit.numpy(), x.astype(np.float64).std(0), rtol=1e-6)
    seen = []

    class Probe(torch.nn.Module):
        def forward(self, xb):
            seen.append(xb.detach().clone())
            return torch.stack([xb[:, 0] + xb[:, 1] / 100, -xb[:, 0]], 1)

    model = Probe()
    model.register_parameter("p", torch.nn.Parameter(torch.zeros(1)))  # a device to read
    config = RankingConfig(per_class=5, noise_samples=50, noise_sigma=0.3)
    rankings, _ = compute_rankings({"conv": space}, {"conv": model}, ["smoothgrad"], config=config, seeds={1: 0})
    points = torch.cat(seen).numpy()
    images = x[sample_per_class(y, 5, 0)]
    spread = (points.reshape(len(images), 50, 2) - images[:, None]).std(axis=(0, 1))
    np.testing.assert_allclose(spread / x.std(0), 0.3, rtol=0.15)  # sigma in each feature's sd
    # d f / d x = (1, 1/100) for class 0 and (-1, 0) for class 1: SmoothGrad-squared in x's units
    np.testing.assert_allclose(rankings["conv/smoothgrad/1"], [1.0, 0.5e-4], rtol=1e-3)


def test_random_and_tie_breaks_are_drawn_per_run():
    a = cell_importance({}, "pixels", "random", 1, 0, 50)
    b = cell_importance({}, "pixels", "random", 2, 1, 50)
    assert not np.array_equal(np.argsort(a), np.argsort(b))
    np.testing.assert_array_equal(a, cell_importance({}, "pixels", "random", 1, 0, 50))
    drawn = {"pixels/normlime/3": np.arange(50.0)}
    assert cell_importance(drawn, "pixels", "normlime", 3, 2, 50) is drawn["pixels/normlime/3"]


def scaled_magnitude(model, X, targets=None, *, scale, batch_size, seed=0, instance_ids=None, progress=None):
    """A stand-in per-image method keeping the registry's contract: |x| * scale for every image."""
    progress(len(X))
    return np.abs(np.asarray(X, dtype=np.float64)) * scale


@pytest.fixture
def opted_in(monkeypatch):
    """Two registry entries of one function with different options, both opting into KAR."""
    import sys
    import types

    module = types.ModuleType("opted_in.saliency")
    module.scaled_magnitude = scaled_magnitude
    monkeypatch.setitem(sys.modules, "opted_in.saliency", module)
    made = [
        registry.Method(
            name,
            name.title(),
            "#000000",
            signed=False,
            source=Source.PER_IMAGE,
            kar=True,
            function="opted_in.saliency:scaled_magnitude",
            options={"scale": scale},
        )
        for name, scale in (("once", 1.0), ("thrice", 3.0))
    ]
    monkeypatch.setattr(registry, "METHODS", (*registry.METHODS, *made))
    return made


def test_a_method_that_opts_in_ranks_through_its_registry_function_with_its_own_options(space, explained, opted_in):
    rankings, sources = compute_rankings(
        {"pixels": space}, {"pixels": explained}, ["once", "thrice"], config=TINY_RANKING, seeds={1: 0}
    )
    rows = space.x_train[sample_per_class(space.y_train.numpy(), TINY_RANKING.per_class, 0)].numpy()
    expected = np.abs(rows.astype(np.float64)).mean(0)  # the mean |attribution| of the shared images
    np.testing.assert_allclose(rankings["pixels/once/1"], expected, rtol=1e-12)
    # same function, other options: its own call (a memo keyed on the function alone would reuse "once")
    np.testing.assert_allclose(rankings["pixels/thrice/1"], 3 * expected, rtol=1e-12)
    assert sources["pixels/thrice/1"]["scale"] == 3.0 and sources["pixels/thrice/1"]["images"] == 20


def test_smoothgrad_and_vargrad_share_one_noise_tunnel_in_kar(space, explained, monkeypatch):
    calls = []
    real = registry.resolve

    def counting(function):
        calls.append(function.function if isinstance(function, registry.Method) else function)
        return real(function)

    monkeypatch.setattr(registry, "resolve", counting)
    compute_rankings(
        {"pixels": space}, {"pixels": explained}, ["smoothgrad", "vargrad"], config=TINY_RANKING, seeds={1: 0}
    )
    assert calls == ["noisy_gradients:noise_tunnel"]


def test_kernel_shap_in_kar_has_every_feature_a_player_and_shaps_budget(space, explained, monkeypatch):
    calls = []
    real = registry.resolve

    def recording(function):
        found = real(function)
        return lambda *args, **kwargs: calls.append(kwargs["batch_size"]) or found(*args, **kwargs)

    monkeypatch.setattr(registry, "resolve", recording)
    _, sources = compute_rankings({"pixels": space}, {"pixels": explained}, ["shap"], config=TINY_RANKING, seeds={1: 0})
    assert sources["pixels/shap/1"]["function"] == "shap:kernel_shap"
    assert sources["pixels/shap/1"]["num_samples"] == 2 * 64 + 2048
    assert calls == [1000] and "batch_size" not in sources["pixels/shap/1"]  # its floor over the config's 500


def test_kar_makes_every_data_input_that_generation_makes():
    from explainers.generation import DATA_INPUTS
    from kar.core.rankings import SPACE_INPUTS

    assert set(SPACE_INPUTS) == set(DATA_INPUTS)


def test_every_method_ranks_the_pixel_values_and_conv_features_of_colour_images_from_each_of_their_classes(caplog):
    from explainers.model import new_model, probabilities
    from kar.core.spaces import conv_space, explained_models, pixel_space
    from tests.kar.tiny import RGB_SHAPE, rgb_data

    data = rgb_data()
    checkpoint = new_model(0, shape=RGB_SHAPE, n_classes=3).eval()
    spaces = {"pixels": pixel_space(data), "conv": conv_space(data, checkpoint)}
    models = explained_models(checkpoint)
    assert set(models) == {"pixels", "conv"} and isinstance(models["conv"].model, torch.nn.Sequential)
    config = RankingConfig(**{**TINY_RANKING.__dict__, "per_class": 1})
    rankings, sources = compute_rankings(spaces, models, METHODS, config=config, seeds={1: 0})
    for name, d in (("pixels", 576), ("conv", 128)):
        for method in METHODS:
            scores = rankings[f"{name}/{method}/1"]
            assert scores.shape == (d,) and np.isfinite(scores).all() and (scores >= 0).all(), (name, method)
            if registry.get(method).source is not Source.RANDOM:  # one image of each of the 3 classes
                assert sources[f"{name}/{method}/1"]["images"] == 3, (name, method)
    assert "has only" not in caplog.text  # images are drawn from the data's 3 classes, not MNIST's 10
    assert models["pixels"](spaces["pixels"].x_test).shape == (12, 3)
    assert probabilities(checkpoint.head)(spaces["conv"].x_test).shape == (12, 3)


def test_each_run_ranks_from_its_own_images_drawn_with_its_seed(space, explained):
    rankings, sources = compute_rankings(
        {"pixels": space}, {"pixels": explained}, ["normlime", "smoothgrad"], config=TINY_RANKING, seeds={1: 0, 2: 1}
    )
    assert [sources[f"pixels/normlime/{r}"]["seed"] for r in (1, 2)] == [0, 1]
    assert [sources[f"pixels/normlime/{r}"]["run"] for r in (1, 2)] == [1, 2]
    for method in ("normlime", "smoothgrad"):  # other images, so another ranking
        assert not np.array_equal(rankings[f"pixels/{method}/1"], rankings[f"pixels/{method}/2"])
    again, _ = compute_rankings(
        {"pixels": space}, {"pixels": explained}, ["normlime"], config=TINY_RANKING, seeds={1: 0}
    )
    np.testing.assert_array_equal(
        again["pixels/normlime/1"], rankings["pixels/normlime/1"]
    )  # a run's own, reproducibly


def test_the_variance_baseline_is_each_features_variance_over_the_training_rows():
    x = np.array([[0.0, 1.0, 5.0], [2.0, 1.0, 5.0], [4.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    space = FeatureSpace("pixels", "head", x, [0, 1, 0, 1], x[:2], [0, 1])
    rankings, sources = compute_rankings({"pixels": space}, {}, ["variance"], config=TINY_RANKING, seeds={1: 0})
    # column 0: mean 2, squared deviations 4, 0, 4, 0 -> 2; column 1 constant -> 0;
    # column 2: mean 3, squared deviations 4, 4, 1, 9 -> 4.5 (population variance, as the noise unit's sd)
    np.testing.assert_allclose(rankings["pixels/variance/1"], [2.0, 0.0, 4.5], rtol=1e-6)
    assert "no model" in sources["pixels/variance/1"]["method"]


def test_standardised_lime_is_each_features_lime_score_times_its_standard_deviation(space, explained):
    rankings, sources = compute_rankings(
        {"pixels": space},
        {"pixels": explained},
        ["lime", "lime_std", "normlime", "normlime_std"],
        config=TINY_RANKING,
        seeds={1: 0},
    )
    sd = space.x_train.double().std(0, unbiased=False).numpy()
    # the column norm of W * sd is sd times the column norm of W
    np.testing.assert_allclose(rankings["pixels/lime_std/1"], rankings["pixels/lime/1"] * sd, rtol=1e-9, atol=1e-15)
    assert sources["pixels/lime_std/1"]["convention"].startswith("local LIME weights per standard deviation")
    # NormLIME's |w|^2 / ||w||_1 is not a rescaling: the standardised ranking is another one
    assert not np.allclose(rankings["pixels/normlime_std/1"], rankings["pixels/normlime/1"] * sd)


def test_log_probabilities_of_a_softmax_model_are_its_log_softmax():
    from explainers.model import Softmax
    from kar.core.rankings import LogProbabilities

    logits = torch.nn.Linear(1, 2, bias=True)
    with torch.no_grad():
        logits.weight.zero_()
        logits.bias.copy_(torch.tensor([0.0, float(np.log(3.0))]))  # probabilities 1/4 and 3/4
    out = LogProbabilities(Softmax(logits))(torch.zeros(1, 1))
    np.testing.assert_allclose(out.detach().numpy(), [[np.log(0.25), np.log(0.75)]], rtol=1e-6)
    with torch.no_grad():
        logits.bias.copy_(torch.tensor([-200.0, 0.0]))  # p = e^-200: 0 in float32, exact in log space
    assert float(LogProbabilities(Softmax(logits))(torch.zeros(1, 1))[0, 0]) == pytest.approx(-200.0)


def test_lime_fitted_to_log_probabilities_ranks_otherwise_and_says_so(space, explained):
    rankings, sources = compute_rankings(
        {"pixels": space},
        {"pixels": explained},
        ["normlime", "normlime_logp", "lime_logp"],
        config=TINY_RANKING,
        seeds={1: 0},
    )
    assert sources["pixels/normlime/1"]["fitted_to"] == "p(target)"
    assert sources["pixels/normlime_logp/1"]["fitted_to"] == "log p(target)"
    assert not np.allclose(rankings["pixels/normlime_logp/1"], rankings["pixels/normlime/1"])
    assert np.isfinite(rankings["pixels/lime_logp/1"]).all()


def test_kar_describes_its_global_normlime_as_eq_5_and_its_shap_players_as_every_feature():
    assert "Eq. 5" in registry.get("normlime").kar_text and "Eq. 9" in registry.get("normlime").description
    assert "every pixel or conv feature a player" in registry.get("shap").kar_text
    assert "2x2" not in registry.get("shap").kar_text
