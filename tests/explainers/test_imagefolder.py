"""explainers.imagefolder: one folder of images per class, read as an ImageData."""

import shutil

import numpy as np
import pytest
from PIL import Image

from explainers.data import DataError, load_data
from explainers.imagefolder import load_imagefolder


def _png(path, pixels, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode=mode).save(path)


def test_an_rgb_folder_has_its_sorted_class_names_shape_and_channel_major_values(tmp_path):
    # Two classes of two 2 x 3 images; "b" sorts after "a" whatever order the folders were made in.
    red = np.zeros((2, 3, 3), dtype=np.uint8)
    red[..., 0] = 255
    blue = np.zeros((2, 3, 3), dtype=np.uint8)
    blue[..., 2] = 51
    for i in range(2):
        _png(tmp_path / "b" / f"{i}.png", blue)
        _png(tmp_path / "a" / f"{i}.png", red)
    data = load_imagefolder(tmp_path)
    assert data.classes == ("a", "b") and data.shape == (3, 2, 3) and data.n_features == 18
    assert data.noun == "class"
    # One of each class held out (20 % of 2, rounded up to one), one kept.
    assert sorted(data.y_train.tolist()) == [0, 1] and sorted(data.y_test.tolist()) == [0, 1]
    row = data.x_train[data.y_train == 0][0]
    assert row.tolist() == [1.0] * 6 + [0.0] * 12  # channel-major: all red values first
    row = data.x_train[data.y_train == 1][0]
    assert np.allclose(row, [0.0] * 12 + [0.2] * 6)


def test_a_greyscale_folder_has_one_channel(tmp_path):
    for cls in ("x", "y"):
        for i in range(3):
            _png(tmp_path / cls / f"{i}.png", np.full((4, 5), 255 * i // 2), mode="L")
    data = load_imagefolder(tmp_path)
    assert data.shape == (1, 4, 5) and data.x_train.shape[1] == 20


def test_train_and_test_folders_are_the_splits(tmp_path):
    for split, n in (("train", 3), ("test", 2)):
        for cls in ("cat", "dog"):
            for i in range(n):
                _png(tmp_path / split / cls / f"{i}.png", np.zeros((2, 2, 3)))
    data = load_imagefolder(tmp_path)
    assert (len(data.y_train), len(data.y_test)) == (6, 4) and data.classes == ("cat", "dog")
    assert "train/ and test/" in data.source


def test_the_held_out_images_are_a_fixed_fifth_of_each_class(shapes_dir):
    first, again = load_imagefolder(shapes_dir), load_imagefolder(shapes_dir)
    assert np.array_equal(first.x_test, again.x_test)
    assert np.bincount(first.y_test).tolist() == [2, 2, 2]  # round(0.2 * 12)
    assert first.files["images"] == "36" and len(first.files["images.sha256"]) == 64


def test_resize_brings_every_image_to_one_size(tmp_path):
    _png(tmp_path / "a" / "0.png", np.zeros((4, 4, 3)))
    _png(tmp_path / "a" / "1.png", np.zeros((6, 8, 3)))
    _png(tmp_path / "b" / "0.png", np.zeros((4, 4, 3)))
    _png(tmp_path / "b" / "1.png", np.zeros((4, 4, 3)))
    with pytest.raises(DataError, match=r"a/1.png: 8 x 6 pixels, but 0.png is 4 x 4 .*--resize"):
        load_imagefolder(tmp_path)
    assert load_imagefolder(tmp_path, resize=(3, 5)).shape == (3, 3, 5)


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda root: root.mkdir(), "no images"),
        (lambda root: _png(root / "only" / "0.png", np.zeros((2, 2, 3))), r"a single class \(only\)"),
        (
            lambda root: (root / "a").mkdir(parents=True) or (root / "a" / "x.png").write_text("no"),
            "x.png: not a readable image",
        ),
    ],
)
def test_a_folder_that_cannot_be_a_data_set_is_refused_in_one_line(tmp_path, make, problem):
    root = tmp_path / "images"
    make(root)
    if problem.endswith("readable image"):
        _png(root / "b" / "0.png", np.zeros((2, 2, 3)))
    with pytest.raises(DataError, match=problem) as caught:
        load_imagefolder(root)
    assert "\n" not in str(caught.value)


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(DataError, match="not a directory"):
        load_imagefolder(tmp_path / "nope")


def test_different_classes_in_train_and_test_are_refused(tmp_path):
    for split, classes in (("train", ("a", "b")), ("test", ("a", "c"))):
        for cls in classes:
            _png(tmp_path / split / cls / "0.png", np.zeros((2, 2, 3)))
    with pytest.raises(DataError, match="train/ has the classes a, b but test/ has a, c"):
        load_imagefolder(tmp_path)


def test_the_data_option_names_an_image_folder(shapes_dir, tmp_path):
    data = load_data(f"imagefolder:{shapes_dir}")
    assert data.classes == ("circle", "square", "triangle") and data.shape == (3, 32, 32)
    copy = shutil.copytree(shapes_dir, tmp_path / "copy")
    assert load_data(f"imagefolder:{copy}", resize=(16, 16)).shape == (3, 16, 16)
