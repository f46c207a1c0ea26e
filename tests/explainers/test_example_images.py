"""explainers.example_images: the three-class RGB example folder, drawn locally."""

import numpy as np
import pytest

from explainers.example_images import CLASSES, draw, write_example_folder
from explainers.imagefolder import load_imagefolder


def test_the_example_is_three_named_rgb_classes_of_the_size_asked(tmp_path):
    root = write_example_folder(tmp_path / "shapes", per_class=3, size=24)
    assert sorted(p.name for p in root.iterdir()) == list(CLASSES)
    data = load_imagefolder(root)
    assert data.classes == CLASSES and data.shape == (3, 24, 24)


def test_the_same_seed_draws_the_same_images(tmp_path):
    a = write_example_folder(tmp_path / "a", per_class=2, seed=5)
    b = write_example_folder(tmp_path / "b", per_class=2, seed=5)
    assert all((a / c / "001.png").read_bytes() == (b / c / "001.png").read_bytes() for c in CLASSES)


def test_a_square_fills_more_of_its_box_than_a_circle_and_a_circle_more_than_a_triangle():
    # Same random stream: same colour, size and place, so only the shape differs.
    filled = {}
    for shape in CLASSES:
        pixels = np.asarray(draw(shape, 32, np.random.default_rng(1)), dtype=float)
        filled[shape] = int((pixels.max(axis=2) >= 120).sum())
    assert filled["square"] > filled["circle"] > filled["triangle"] > 0


def test_an_unknown_shape_is_refused():
    with pytest.raises(ValueError, match="unknown shape"):
        draw("star", 32, np.random.default_rng(0))
