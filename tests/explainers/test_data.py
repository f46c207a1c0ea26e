"""MNIST loading: the embedded split, official IDX files, Keras npz, and every bad file."""

import gzip

import numpy as np
import pytest

from explainers.data import (
    EMBEDDED_TRAIN_SIZE,
    IMAGE_MAGIC,
    LABEL_MAGIC,
    ImageData,
    MnistDataError,
    load_embedded,
    load_mnist,
    read_idx,
    sample_per_class,
    write_idx,
)


def write_set(root, n_train=20, n_test=10, gz=False):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        write_idx(root / f"{name}{suffix}", array)
    return arrays


def test_the_embedded_subset_splits_into_4000_training_and_1000_test_digits_stratified():
    data = load_embedded()
    assert data.x_train.shape == (4000, 784) and data.x_test.shape == (1000, 784)
    assert (np.bincount(data.y_train) == 400).all() and (np.bincount(data.y_test) == 100).all()
    assert data.train_subset(EMBEDDED_TRAIN_SIZE) is data  # run_kar's default: the embedded set as it was
    assert data.x_train.dtype == np.float32 and 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0


def test_the_embedded_split_is_the_same_every_time():
    a, b = load_embedded(), load_embedded()
    np.testing.assert_array_equal(a.x_test, b.x_test)


@pytest.mark.parametrize("gz", [False, True])
def test_official_idx_files_load_plain_or_gzipped(tmp_path, gz):
    arrays = write_set(tmp_path, gz=gz)
    data = load_mnist(tmp_path)
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_allclose(data.x_test[3], arrays["t10k-images-idx3-ubyte"][3].reshape(784) / 255.0, rtol=1e-6)
    assert "IDX" in data.source and len(data.files) == 4


def test_a_keras_style_npz_loads(tmp_path):
    rng = np.random.default_rng(1)
    np.savez(
        tmp_path / "mnist.npz",
        x_train=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        y_train=np.arange(6),
        x_test=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        y_test=np.arange(4),
    )
    data = load_mnist(tmp_path)
    assert data.x_train.shape == (6, 784) and list(data.y_test) == [0, 1, 2, 3]


def test_a_missing_file_is_named_in_a_one_line_error(tmp_path):
    write_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(MnistDataError) as err:
        load_mnist(tmp_path)
    message = str(err.value)
    assert "t10k-labels-idx1-ubyte" in message and "missing" in message and "\n" not in message


def test_a_truncated_file_says_how_long_it_should_be(tmp_path):
    write_set(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(
        MnistDataError, match=r"train-images-idx3-ubyte: truncated or padded \(\d+ bytes; expected 15696"
    ):
        load_mnist(tmp_path)


def test_a_file_with_the_wrong_magic_number_is_refused(tmp_path):
    write_set(tmp_path)
    # swap: a label file where images are expected
    (tmp_path / "train-images-idx3-ubyte").write_bytes((tmp_path / "train-labels-idx1-ubyte").read_bytes())
    with pytest.raises(MnistDataError, match="wrong magic number 0x00000801 \\(expected 0x00000803"):
        load_mnist(tmp_path)


def test_a_corrupt_gzip_file_is_refused_with_its_name(tmp_path):
    write_set(tmp_path, gz=True)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(MnistDataError, match="t10k-images-idx3-ubyte.gz: unreadable"):
        load_mnist(tmp_path)


def test_images_and_labels_of_different_counts_are_refused(tmp_path):
    write_set(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(19, dtype=np.uint8))
    with pytest.raises(MnistDataError, match="train images \\(20\\) and labels \\(19\\) differ"):
        load_mnist(tmp_path)


def test_a_folder_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(MnistDataError, match="not a directory"):
        load_mnist(tmp_path / "nope")


def test_an_npz_without_the_expected_arrays_is_refused(tmp_path):
    np.savez(tmp_path / "mnist.npz", images=np.zeros((2, 28, 28)))
    with pytest.raises(MnistDataError, match="no array 'x_train'"):
        load_mnist(tmp_path)


def test_idx_round_trip_keeps_the_header_and_values(tmp_path):
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(tmp_path / "x.gz", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "x.gz", IMAGE_MAGIC), array)
    with gzip.open(tmp_path / "x.gz", "rb") as f:
        assert f.read(4) == IMAGE_MAGIC.to_bytes(4, "big")
    write_idx(tmp_path / "y", np.array([1, 2, 3], dtype=np.uint8))
    assert read_idx(tmp_path / "y", LABEL_MAGIC).tolist() == [1, 2, 3]


def test_sample_per_class_draws_the_asked_number_of_each_class_repeatably():
    labels = np.repeat(np.arange(10), 7)
    a = sample_per_class(labels, 3, seed=0)
    assert (np.bincount(labels[a], minlength=10) == 3).all()
    np.testing.assert_array_equal(a, sample_per_class(labels, 3, seed=0))
    assert len(sample_per_class(labels, 50, seed=0)) == 70  # a short class gives all it has


def test_an_image_data_set_knows_its_classes_shape_and_features():
    from explainers.data import ImageData

    x = np.zeros((4, 2 * 3 * 5), dtype=np.float32)
    data = ImageData(
        x, np.zeros(4, dtype=np.int64), x, np.zeros(4, dtype=np.int64), "t", classes=["a", "b"], shape=(2, 3, 5)
    )
    assert (data.n_classes, data.channels, data.height, data.width, data.n_features) == (2, 2, 3, 5, 30)
    assert data.images(x).shape == (4, 2, 3, 5)
    assert data.describe()["classes"] == ["a", "b"] and data.describe()["shape"] == [2, 3, 5]
    with pytest.raises(ValueError, match=r"expected \(n, 30\)"):
        ImageData(x[:, :7], np.zeros(4), x, np.zeros(4), "t", shape=(2, 3, 5))


def test_mnist_is_the_default_layout_of_a_set_that_records_none():
    from explainers.data import layout_of

    assert layout_of(None) == {
        "classes": [str(d) for d in range(10)],
        "shape": [1, 28, 28],
        "value_range": [0.0, 1.0],
        "noun": "digit",
    }
    assert layout_of({"classes": ["a", "b"], "shape": [3, 4, 4], "noun": "class"})["classes"] == ["a", "b"]


@pytest.mark.parametrize(
    "spec, problem",
    [
        ("cifar", "use mnist, mnist:DIR or imagefolder:DIR"),
        ("imagefolder:", "use mnist, mnist:DIR or imagefolder:DIR"),
        ("imagefolder:/no/such/dir", "not a directory"),
        ("mnist:/no/such/dir", "not a directory"),
    ],
)
def test_a_wrong_data_option_is_one_line(spec, problem):
    from explainers.data import DataError, load_data

    with pytest.raises(DataError, match=problem):
        load_data(spec)


def test_the_mnist_data_options_are_the_embedded_subset_and_the_official_files(tiny_mnist_dir):
    from explainers.data import DataError, load_data

    assert load_data(f"mnist:{tiny_mnist_dir}").y_train.shape == (400,)
    with pytest.raises(DataError, match="not both"):
        load_data(f"mnist:{tiny_mnist_dir}", mnist_dir=tiny_mnist_dir)
    with pytest.raises(DataError, match="resize applies to image folders"):
        load_data("mnist", resize=(32, 32))


@pytest.mark.parametrize("text, expected", [(None, None), ("32,32", (32, 32)), ("24x16", (24, 16))])
def test_resize_reads_height_and_width(text, expected):
    from explainers.data import parse_resize

    assert parse_resize(text) == expected


@pytest.mark.parametrize("text", ["32", "a,b", "0,4", "1,2,3"])
def test_a_wrong_resize_is_one_line(text):
    from explainers.data import DataError, parse_resize

    with pytest.raises(DataError, match="--resize"):
        parse_resize(text)


# --------------------------------------------------------------------------
# A stratified training subset (--train-size)
# --------------------------------------------------------------------------


def three_classes(counts=(8, 4, 3)) -> ImageData:
    """Training images of classes a, b, c in ``counts``; image i's two values are both i (to follow the rows)."""
    y = np.repeat(np.arange(len(counts)), counts)
    x = np.arange(len(y), dtype=np.float32)[:, None].repeat(2, axis=1)
    return ImageData(x, y, x[:2] + 100, y[:2], source="tiny", classes=("a", "b", "c"), shape=(1, 1, 2))


def test_a_training_subset_keeps_each_class_in_proportion_largest_remainder_first():
    # 10 of 8/4/3: 10 * 8/15 = 5.33, 10 * 4/15 = 2.67, 10 * 3/15 = 2 -> 5, 2, 2 and the one left to b (.67)
    subset = three_classes().train_subset(10)
    assert np.bincount(subset.y_train).tolist() == [5, 3, 2]
    rows = subset.x_train[:, 0].astype(int)
    assert (np.diff(rows) > 0).all() and (subset.y_train == three_classes().y_train[rows]).all()  # in order


def test_a_training_subset_is_the_same_for_the_same_seed_and_leaves_the_test_images_alone():
    data = three_classes()
    first, again, other = data.train_subset(10), data.train_subset(10), data.train_subset(10, seed=1)
    assert (first.x_train == again.x_train).all() and not (first.x_train == other.x_train).all()
    assert (first.x_test == data.x_test).all() and (first.y_test == data.y_test).all()


def test_a_training_subset_is_recorded_in_the_description_and_all_of_them_is_the_data_itself():
    data = three_classes()
    described = data.train_subset(6, seed=2).describe()
    assert described["train"] == 6 and described["test"] == 2
    assert described["train_subset"] == {"size": 6, "of": 15, "seed": 2, "stratified": True}
    assert data.train_subset(15) is data and "train_subset" not in data.describe()


@pytest.mark.parametrize(
    "counts, n, problem",
    [
        ((8, 4, 3), 16, "a subset of 16 training images: the data has only 15"),
        ((8, 4, 3), 2, "a subset of 2 training images: fewer than the 3 classes (a stratified subset has each)"),
        (
            (8, 4, 3),
            13,
            "a subset of 13 training images: leaves out 2 of 15, fewer than the 3 classes; give at most 12",
        ),
        ((8, 4, 1), 6, "a subset of 6 training images: class 'c' has a single one (a stratified subset needs two)"),
    ],
)
def test_a_training_subset_it_cannot_have_is_a_one_line_data_error(counts, n, problem):
    with pytest.raises(MnistDataError) as error:
        three_classes(counts).train_subset(n)
    assert str(error.value).startswith(problem) and "\n" not in str(error.value)


def test_a_subset_of_a_subset_is_refused():
    with pytest.raises(MnistDataError, match="they are already a subset of 10"):
        three_classes().train_subset(10).train_subset(5)
