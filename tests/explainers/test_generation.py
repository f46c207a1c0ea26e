"""explainers.generation.generate: every registered method's class maps, from the registry alone."""

import sys
import types
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from explainers import generation
from explainers.data import load_mnist
from explainers.generation import GenerationConfig, generate
from explainers.methods import class_mean_maps, integrated_gradients, patch_shap, registry
from explainers.methods.registry import Method, Source
from explainers.model import load_checkpoint, probabilities

TINY = GenerationConfig(
    per_class=1, num_samples=30, num_features=5, images_per_class=1, options={"shap": {"patch": 14}}
)


@pytest.fixture(scope="module")
def model_and_data(tiny_model_path, tiny_mnist_dir):
    return load_checkpoint(tiny_model_path, "cpu"), load_mnist(tiny_mnist_dir)


def test_the_shap_class_map_is_the_mean_absolute_shap_of_the_gradient_images(model_and_data, tmp_path):
    model, data = model_and_data
    result = generate(model, "a" * 64, data, tmp_path, TINY)
    idx = generation.sample_per_class(data.y_train, 1, TINY.seed + 1)  # the SmoothGrad images
    phi = patch_shap(
        probabilities(model),
        data.x_train[idx],
        data.y_train[idx],
        patch=14,
        background=data.x_train.mean(0),
        seed=TINY.seed + 1,
        instance_ids=idx,
    )
    np.testing.assert_allclose(result.maps["shap"], class_mean_maps(np.abs(phi), data.y_train[idx]), rtol=1e-6)
    assert len(np.unique(result.maps["shap"][3])) <= 4  # one value per 14x14 patch


def test_the_ig_class_map_is_the_mean_signed_ig_of_the_gradient_images_and_shows_its_positive_part(
    model_and_data, tmp_path
):
    model, data = model_and_data
    result = generate(model, "a" * 64, data, tmp_path, TINY)
    idx = generation.sample_per_class(data.y_train, 1, TINY.seed + 1)  # the SmoothGrad images
    ig = integrated_gradients(probabilities(model), data.x_train[idx], data.y_train[idx], steps=64, baseline="black")
    signed = class_mean_maps(ig, data.y_train[idx])
    np.testing.assert_allclose(result.maps["ig_signed"], signed, rtol=1e-6, atol=1e-12)
    assert (signed < 0).any()  # so the shown map (its positive part) is a real choice
    np.testing.assert_array_equal(generation.displayed_maps(result.maps)["ig"], np.clip(signed, 0, None))


def test_the_noise_tunnel_runs_once_for_smoothgrad_and_vargrad(model_and_data, tmp_path, monkeypatch):
    model, data = model_and_data
    calls = []
    real = registry.resolve

    def counting(function):
        calls.append(function.function if isinstance(function, Method) else function)
        return real(function)

    monkeypatch.setattr(registry, "resolve", counting)
    generate(model, "a" * 64, data, tmp_path, TINY)
    assert calls.count("noisy_gradients:noise_tunnel") == 1


def ones_per_image(model, X, targets, *, scale, batch_size, seed, instance_ids, progress):
    """A stand-in saliency method: every pixel of every image scores ``scale``."""
    progress(len(X))
    return np.full((len(X), X.shape[1]), float(scale))


@pytest.fixture
def dummy_method(monkeypatch):
    """A method registered for one test, its module a stand-in for explainers/methods/<name>.py."""
    module = types.ModuleType("dummy_saliency.methods")
    module.ones_per_image = ones_per_image
    monkeypatch.setitem(sys.modules, "dummy_saliency.methods", module)
    method = Method(
        "dummy",
        "Dummy",
        "#000000",
        signed=True,
        source=Source.PER_IMAGE,
        function="dummy_saliency.methods:ones_per_image",
        options={"scale": -2.0},
    )
    monkeypatch.setattr(registry, "METHODS", (*registry.METHODS, method))
    return method


def test_a_registered_method_is_generated_written_and_drawn(model_and_data, tmp_path, dummy_method):
    model, data = model_and_data
    result = generate(model, "a" * 64, data, tmp_path, TINY)
    np.testing.assert_allclose(result.maps["dummy_signed"], -2.0)  # signed: the class mean as computed
    np.testing.assert_allclose(result.maps["dummy"], 2.0)
    np.testing.assert_allclose(generation.displayed_maps(result.maps)["dummy"], 0.0)  # its positive part
    assert np.load(tmp_path / "maps.npz")["dummy"].shape == (10, 784)
    assert Image.open(tmp_path / "png" / "dummy_9.png").size == (280, 280)
    assert result.manifest["methods"]["dummy"]["options"] == {"scale": -2.0}
    assert generation.overview_rows(list(result.maps))[-1] == "dummy"
    assert "dummy" in result.manifest["seconds"]


def test_a_registered_methods_options_can_be_replaced(model_and_data, tmp_path, dummy_method):
    model, data = model_and_data
    result = generate(model, "a" * 64, data, tmp_path, replace(TINY, options={**TINY.options, "dummy": {"scale": 3}}))
    np.testing.assert_allclose(result.maps["dummy"], 3.0)


def test_options_for_an_unknown_method_are_refused(model_and_data, tmp_path):
    model, data = model_and_data
    with pytest.raises(ValueError, match="options for unknown method"):
        generate(model, "a" * 64, data, tmp_path, replace(TINY, options={"nope": {}}))


@pytest.fixture(scope="module")
def colour_model_and_data(shapes_dir):
    """An untrained network for the example folder's 3 x 32 x 32 images of three classes (no training)."""
    from explainers.imagefolder import load_imagefolder
    from explainers.model import new_model

    data = load_imagefolder(shapes_dir)
    return new_model(0, shape=data.shape, n_classes=data.n_classes).eval(), data


# SHAP over 16x16-pixel patches of all three channels: 4 players, every coalition enumerated
COLOUR = replace(TINY, options={"shap": {"patch": 16}})


def test_every_method_makes_one_channel_maps_of_each_class_of_a_colour_set(colour_model_and_data, tmp_path):
    from explainers.methods import normlime
    from explainers.methods.channels import to_pixels

    model, data = colour_model_and_data
    assert data.shape == (3, 32, 32) and data.n_classes == 3
    result = generate(model, "a" * 64, data, tmp_path, COLOUR)
    for name in registry.names():
        assert result.maps[name].shape == (3, 32 * 32), name
        assert Image.open(tmp_path / "png" / f"{name}_2.png").size == (288, 288)  # 9 px a pixel: 280 / 32 = 8.75
        assert not (tmp_path / "png" / f"{name}_3.png").exists()
    assert result.maps["normlime_global"].shape == (32 * 32,)
    weights = np.load(tmp_path / "local_weights.npz")
    assert weights["W"].shape[1] == 3 * 32 * 32  # LIME explains every value; the maps add a pixel's channels
    pixel_W = to_pixels(weights["W"], data.shape, registry.Channels.SUM)
    np.testing.assert_allclose(result.maps["normlime"], normlime(pixel_W, weights["labels"], num_classes=3))
    assert len(np.unique(result.maps["shap"][0])) <= 4  # one value per patch, the same in every channel
    explained = result.manifest["explained"]
    assert len(explained["per_class_by_prediction"]) == 3 and explained["gradient_images_per_class"] == [1, 1, 1]
    assert result.manifest["data"]["classes"] == ["circle", "square", "triangle"]
    assert result.manifest["methods"]["smoothgrad"]["channels"] == registry.get("smoothgrad").channel_rule


@pytest.mark.parametrize(("rule", "expected"), [("SUM", 6.0), ("MAX", 3.0), ("SHARED", 1.0)])
def test_a_per_image_methods_colour_maps_become_one_channel_by_its_rule(
    colour_model_and_data, tmp_path, monkeypatch, rule, expected
):
    def channel_numbers(model, X, targets, *, batch_size, seed, instance_ids, progress):
        """Every value of channel c scores c + 1."""
        return np.repeat([[1.0, 2.0, 3.0]], len(X), axis=0).repeat(32 * 32, axis=1)

    module = types.ModuleType("channel_saliency.methods")
    module.channel_numbers = channel_numbers
    monkeypatch.setitem(sys.modules, "channel_saliency.methods", module)
    method = Method(
        "channelled",
        "Channelled",
        "#000000",
        signed=False,
        source=Source.PER_IMAGE,
        function="channel_saliency.methods:channel_numbers",
        channels=registry.Channels[rule],
        channel_rule="a rule for the test",
    )
    monkeypatch.setattr(registry, "METHODS", (*registry.METHODS, method))
    model, data = colour_model_and_data
    result = generate(model, "a" * 64, data, tmp_path, COLOUR)
    np.testing.assert_array_equal(result.maps["channelled"], np.full((3, 32 * 32), expected))
