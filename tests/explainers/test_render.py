"""Pictures of maps: size, sharp upscaling, positive part, one colour map."""

import io

import numpy as np
from PIL import Image

from explainers import render


def test_a_map_becomes_a_280_pixel_square_made_of_10_by_10_blocks():
    values = np.zeros(784)
    values[0] = 1.0
    image = np.asarray(Image.open(io.BytesIO(render.map_png(values))))
    assert image.shape == (280, 280, 3)
    assert (image[:10, :10] == image[0, 0]).all()  # no smoothing: the block is one colour
    assert not (image[10, 10] == image[0, 0]).all()


def test_only_the_positive_part_is_shown():
    np.testing.assert_array_equal(render.displayed(np.array([-1.0, 0.5])), [0.0, 0.5])
    np.testing.assert_allclose(render.to_unit(np.array([-3.0, 1.0, 2.0])), [0.0, 0.5, 1.0])


def test_an_all_zero_map_is_black_not_an_error():
    assert (render.to_unit(np.zeros(784)) == 0).all()
    Image.open(io.BytesIO(render.map_png(np.zeros(784)))).verify()


def test_the_overview_is_a_png_wider_than_tall():
    maps = {m: np.random.default_rng(0).random((10, 784)) for m in ("normlime", "lime")}
    image = Image.open(io.BytesIO(render.overview_png(maps, ["lime", "normlime"])))
    assert image.format == "PNG" and image.size[0] > image.size[1]


def test_a_map_of_another_size_keeps_its_longer_side_near_280_pixels():
    values = np.zeros(12 * 16)
    values[0] = 1.0
    assert render.scale_for((12, 16)) == 18 and render.picture_size((12, 16)) == (288, 216)  # 280 / 16 = 17.5
    image = np.asarray(Image.open(io.BytesIO(render.map_png(values, shape=(12, 16)))))
    assert image.shape == (216, 288, 3)
    assert (image[:18, :18] == image[0, 0]).all() and not (image[18, 18] == image[0, 0]).all()
    assert render.picture_size((28, 28)) == (280, 280) and render.picture_size((64, 64)) == (256, 256)


def test_a_map_of_the_wrong_size_for_its_shape_is_refused():
    import pytest

    with pytest.raises(ValueError, match="a map of 784 values is not 12 x 16"):
        render.map_png(np.zeros(784), shape=(12, 16))


def test_the_overview_has_a_column_per_class_headed_by_its_name(monkeypatch):
    titles = []
    real = render.plt.Axes.set_title
    monkeypatch.setattr(
        render.plt.Axes, "set_title", lambda ax, text, **kw: titles.append(text) or real(ax, text, **kw)
    )
    maps = {m: np.random.default_rng(0).random((3, 12 * 16)) for m in ("normlime", "lime")}
    png = render.overview_png(maps, ["lime", "normlime"], classes=("circle", "square", "triangle"), shape=(12, 16))
    assert titles == ["circle", "square", "triangle"]
    narrow = Image.open(io.BytesIO(png)).size[0]
    wide = Image.open(io.BytesIO(render.overview_png({m: np.zeros((10, 784)) for m in maps}, ["lime"]))).size[0]
    assert narrow < wide  # three columns, not ten
