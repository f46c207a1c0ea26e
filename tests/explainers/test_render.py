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
