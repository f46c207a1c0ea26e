"""An ImageFolder tree as an :class:`explainers.data.ImageData`: the convention torchvision users know.

``DIR/CLASS/*.png|jpg|jpeg``: one folder per class, the class names sorted as torchvision's
``ImageFolder`` sorts them (so label i is the i-th name). With ``DIR/train/CLASS/...`` and
``DIR/test/CLASS/...`` those are the splits (the same classes in both); otherwise a fixed
stratified split holds out :data:`TEST_FRACTION` of each class (seeded by :data:`SPLIT_SEED`,
never by a run's seed, so the held-out images never change).

Images are read with Pillow. When every image is greyscale the set has one channel, otherwise
three (RGB; an alpha channel is dropped); values are scaled to [0, 1]. Every image must have the
size of the first, unless ``resize`` (height, width) is given. A folder with no images, a single
class, images of another size or a file Pillow cannot read is refused in one line naming it.

Plain NumPy and Pillow; no Django.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .data import CLASS_NOUN, DataError, ImageData

SUFFIXES = (".png", ".jpg", ".jpeg")
SPLITS = ("train", "test")
TEST_FRACTION = 0.2
SPLIT_SEED = 0
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def load_imagefolder(root: str | Path, resize: tuple[int, int] | None = None) -> ImageData:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a directory (expected one folder per class of PNG or JPEG images)")
    if all((root / split).is_dir() for split in SPLITS):
        trees = {split: _class_files(root / split) for split in SPLITS}
        if list(trees["train"]) != list(trees["test"]):
            raise DataError(
                f"{root}: train/ has the classes {', '.join(trees['train'])} but test/ has {', '.join(trees['test'])}"
            )
        files = {split: [f for c, paths in trees[split].items() for f in paths] for split in SPLITS}
        classes = list(trees["train"])
        labels = {split: [i for i, paths in enumerate(trees[split].values()) for _ in paths] for split in SPLITS}
        pixels, shape = _read_all([*files["train"], *files["test"]], resize)
        n_train = len(files["train"])
        x_train, x_test = pixels[:n_train], pixels[n_train:]
        y_train, y_test = (np.asarray(labels[s], dtype=np.int64) for s in SPLITS)
        every = [*files["train"], *files["test"]]
        how = "its train/ and test/ folders"
    else:
        tree = _class_files(root)
        classes = list(tree)
        every = [f for paths in tree.values() for f in paths]
        y = np.asarray([i for i, paths in enumerate(tree.values()) for _ in paths], dtype=np.int64)
        pixels, shape = _read_all(every, resize)
        test = _held_out(y, classes)
        x_train, y_train, x_test, y_test = pixels[~test], y[~test], pixels[test], y[test]
        how = f"{TEST_FRACTION:.0%} of each class held out (fixed seed {SPLIT_SEED})"
    size = f", resized to {shape[1]} x {shape[2]}" if resize else ""
    return ImageData(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        source=f"image folder {root.resolve()} ({len(classes)} classes, {how}{size})",
        files={"images.sha256": _tree_digest(root, every), "images": str(len(every))},
        classes=tuple(classes),
        shape=shape,
        noun=CLASS_NOUN,
    )


def _class_files(root: Path) -> dict[str, list[Path]]:
    """Class name -> its image files (sorted), for the sorted sub-folders of ``root`` that hold images."""
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    tree = {}
    for folder in folders:
        images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
        if images:
            tree[folder.name] = images
    if not tree:
        raise DataError(f"{root}: no images (expected {root}/CLASS/*.png or *.jpg, one folder per class)")
    if len(tree) < 2:
        raise DataError(f"{root}: a single class ({next(iter(tree))}); a classifier needs at least two folders")
    return tree


def _read_all(paths: list[Path], resize: tuple[int, int] | None) -> tuple[np.ndarray, tuple[int, int, int]]:
    from PIL import Image, UnidentifiedImageError

    images = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.load()
                images.append(image.copy())
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable image ({exc})") from None
    grey = all(image.mode in GREY_MODES for image in images)
    mode, channels = ("L", 1) if grey else ("RGB", 3)
    first = images[0].size  # (width, height)
    width, height = (resize[1], resize[0]) if resize else first
    rows = np.empty((len(images), channels * height * width), dtype=np.float32)
    for i, (path, image) in enumerate(zip(paths, images, strict=True)):
        if resize:
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        elif image.size != first:
            raise DataError(
                f"{path}: {image.size[0]} x {image.size[1]} pixels, but {paths[0].name} is {first[0]} x {first[1]} "
                "(give --resize H,W to bring them to one size)"
            )
        values = np.asarray(image.convert(mode), dtype=np.float32) / 255.0
        rows[i] = (values[None] if grey else values.transpose(2, 0, 1)).ravel()
    return rows, (channels, height, width)


def _held_out(y: np.ndarray, classes: list[str]) -> np.ndarray:
    """A fixed stratified choice of about :data:`TEST_FRACTION` of each class (at least one image
    held out and one kept per class of two or more)."""
    rng = np.random.default_rng(SPLIT_SEED)
    test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        if len(rows) < 2:
            raise DataError(
                f"class {classes[label]} has {len(rows)} image: each class needs two or more to be split "
                "(or give train/ and test/ folders)"
            )
        take = min(len(rows) - 1, max(1, round(TEST_FRACTION * len(rows))))
        test[rng.choice(rows, size=take, replace=False)] = True
    return test


def _tree_digest(root: Path, paths: list[Path]) -> str:
    """One sha256 over every image's path (relative to ``root``) and bytes, in the order read."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
