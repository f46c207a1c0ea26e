"""explainers.services.register_explanation_set: a set's maps registered by the layout of its data set."""

import numpy as np
import pytest

from explainers.models import ClassMap, ExplanationSet
from explainers.services import register_explanation_set
from tests.explainers.bundling import COLOUR_LAYOUT

pytestmark = pytest.mark.django_db


def manifest(layout=None):
    return {"model": {"sha256": "a" * 64}, "data": {"source": "test", **(layout or {})}}


def test_a_colour_sets_maps_are_registered_one_per_class_in_its_map_shape(rendered_once, tmp_path):
    rng = np.random.default_rng(0)
    maps = {"smoothgrad": rng.random((3, 12 * 16)), "random": rng.random((3, 12 * 16))}
    explanation_set = register_explanation_set("shapes", tmp_path, maps, manifest(COLOUR_LAYOUT))
    assert explanation_set.layout["classes"] == COLOUR_LAYOUT["classes"] and explanation_set.map_shape == (12, 16)
    assert set(explanation_set.maps.values_list("digit", flat=True)) == {0, 1, 2}
    np.testing.assert_allclose(explanation_set.map_for("random", 1).array(), maps["random"][1].reshape(12, 16))


def test_a_manifest_without_a_layout_is_mnists(rendered_once, tmp_path):
    maps = {"smoothgrad": np.ones((10, 784))}
    explanation_set = register_explanation_set("mnist", tmp_path, maps, manifest())
    assert explanation_set.n_classes == 10 and explanation_set.map_for("smoothgrad", 9).array().shape == (28, 28)


def test_maps_that_do_not_fit_the_layout_are_refused_and_nothing_is_registered(tmp_path):
    maps = {"smoothgrad": np.ones((10, 784))}
    with pytest.raises(ValueError, match=r"smoothgrad's maps are 10x784, but the set's layout needs 3x192 \(3 classes"):
        register_explanation_set("shapes", tmp_path, maps, manifest(COLOUR_LAYOUT))
    assert not ExplanationSet.objects.exists() and not ClassMap.objects.exists()
