"""The explanation gallery pages and map images (staff only; refusals are in tests/survey/test_blind.py)."""

import numpy as np
import pytest

from explainers import render
from explainers.methods import registry
from explainers.models import ClassMap, ExplanationSet

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(staff_client):
    """A staff member's browser: the gallery is behind the staff login."""
    return staff_client


@pytest.fixture
def explanation_set():
    rng = np.random.default_rng(0)
    s = ExplanationSet.objects.create(
        name="demo-set",
        directory="/tmp/demo-set",
        model_sha256="a" * 64,
        data_source="embedded",
        parameters={"seed": 0},
        manifest={"explained": {"local_explanations": 20}, "seconds": {"total": 1.0}},
        overview_png=b"\x89PNG overview",
    )
    for method in registry.names():
        for digit in range(10):
            values = rng.random(784).astype(np.float32)
            ClassMap.objects.create(
                explanation_set=s, method=method, digit=digit, values=values.tobytes(), png=render.map_png(values)
            )
    return s


def test_the_list_links_to_each_set(client, explanation_set):
    response = client.get("/explanations/")
    assert response.status_code == 200
    assert b'href="/explanations/demo-set/"' in response.content


def test_the_list_says_how_to_make_a_set_when_there_is_none(client):
    assert b"generate_explanations" in client.get("/explanations/").content


def test_the_detail_page_shows_a_row_of_ten_maps_for_every_registered_method(client, explanation_set):
    response = client.get("/explanations/demo-set/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('src="/explanations/demo-set/maps/') == 10 * len(registry.METHODS)
    for method in registry.METHODS:
        assert f'src="/explanations/demo-set/maps/{method.name}/9.png"' in html
        assert f'<div class="head" role="rowheader">{method.label}</div>' in html
    assert "/explanations/demo-set/overview.png" in html


def test_a_method_registered_after_the_set_was_made_shows_as_missing(client, explanation_set):
    explanation_set.maps.filter(method="shap").delete()
    html = client.get("/explanations/demo-set/").content.decode()
    assert html.count('src="/explanations/demo-set/maps/') == 10 * (len(registry.METHODS) - 1)
    assert html.count("missing</div>") == 10


def test_a_map_is_served_as_a_cacheable_png(client, explanation_set):
    response = client.get("/explanations/demo-set/maps/lime/7.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content == bytes(ClassMap.objects.get(method="lime", digit=7).png)
    assert (
        "max-age" in response["Cache-Control"]
        and "private" in response["Cache-Control"]
        and response.has_header("ETag")
    )
    again = client.get("/explanations/demo-set/maps/lime/7.png", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_unknown_sets_methods_and_digits_are_404(client, explanation_set):
    assert client.get("/explanations/nope/").status_code == 404
    assert client.get("/explanations/demo-set/maps/nope/1.png").status_code == 404
    assert client.get("/explanations/demo-set/maps/lime/12.png").status_code == 404
    assert client.get("/explanations/nope/overview.png").status_code == 404


def test_the_detail_page_of_a_colour_set_has_a_column_per_class_named_as_the_set_names_them(client):
    layout = {"classes": ["circle", "square", "triangle"], "shape": [3, 12, 16], "value_range": [0, 1], "noun": "class"}
    s = ExplanationSet.objects.create(
        name="shapes", directory="/tmp/shapes", model_sha256="a" * 64, data_source="imagefolder", layout=layout
    )
    values = np.zeros(12 * 16, dtype=np.float32)
    for method in registry.names():
        for digit in range(3):
            png = render.map_png(values, shape=(12, 16))
            ClassMap.objects.create(explanation_set=s, method=method, digit=digit, values=values.tobytes(), png=png)
    html = client.get("/explanations/shapes/").content.decode()
    assert html.count('src="/explanations/shapes/maps/') == 3 * len(registry.METHODS)
    for name in layout["classes"]:
        assert f'<div class="head" role="columnheader">{name}</div>' in html
    assert 'alt="SHAP map of class triangle" width="288" height="216"' in html  # 18 px a map pixel
    assert "repeat(3," in html and "maps/shap/3.png" not in html
