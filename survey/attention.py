"""Attention checks and the instructions' example, built from the data set's own images.

In the spirit of the paper's Fig. 4: a check asks about class N; the correct option plainly
shows N; the k - 1 distractors (three in the paper) show other classes, two of them identical
when there are at least two. The pictures are real images of the data set (for each class, the
training image closest to the class mean: a typical, clean example) at the size of the maps'
PNGs: a one-channel image (MNIST's handwritten digits) in the maps' colour map, as the maps are
drawn; a colour image as itself.

Plain NumPy and Pillow, no Django.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw

from explainers import render
from explainers.data import MNIST_CLASSES, MNIST_NOUN, MNIST_PIXELS, MNIST_SHAPE

from .rules import MAX_ATTENTION_CHECKS, MIN_ATTENTION_CHECKS

if TYPE_CHECKING:
    from explainers.data import ImageData

EXAMPLE_DIGIT = 4  # Fig. 3 explains the task with the number four
#: Fig. 3's oval: around this many of MNIST's 784 pixels, with margins in MNIST pixels (scaled to other sizes).
EXAMPLE_PIXELS, EXAMPLE_MARGIN, EXAMPLE_MIN_RADIUS = 12, 2.5, 4


@dataclass(frozen=True)
class CheckPlan:
    digit: int  # the class asked about (MNIST's digit); the correct option shows it
    distractors: tuple[int, ...]  # classes shown by the k - 1 distractors, in slot order

    @property
    def twin(self) -> int:
        """The class of the first distractor (with two or more distractors, of the identical pair)."""
        return self.distractors[0]


def example_class(n_classes: int) -> int:
    """The class the instructions' example shows: MNIST's four (Fig. 3), else the last class when there are fewer."""
    return min(EXAMPLE_DIGIT, n_classes - 1)


def typical_images(
    images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...] = MNIST_CLASSES, noun: str = MNIST_NOUN
) -> np.ndarray:
    """(n_classes, values per image): for each class, the image closest to that class's mean image."""
    images = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    labels = np.asarray(labels)
    out = np.zeros((len(classes), images.shape[1]), dtype=np.float32)
    for label, name in enumerate(classes):
        group = images[labels == label]
        if len(group) == 0:
            raise ValueError(f"no image of {noun} {name} in the data")
        distances = ((group - group.mean(axis=0)) ** 2).sum(axis=1)
        out[label] = group[int(np.argmin(distances))]
    return out


def mean_images(images: np.ndarray, labels: np.ndarray, n_classes: int = len(MNIST_CLASSES)) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    return np.stack([images[np.asarray(labels) == label].mean(axis=0) for label in range(n_classes)])


# The names they had when MNIST was the only data set.
typical_digits, mean_digits = typical_images, mean_images


def class_pictures(data: ImageData) -> tuple[np.ndarray, np.ndarray]:
    """(typical, mean) images of each class of ``data``'s training split, n_classes x C*H*W each."""
    return (
        typical_images(data.x_train, data.y_train, data.classes, data.noun),
        mean_images(data.x_train, data.y_train, data.n_classes),
    )


@lru_cache(maxsize=4)
def digit_pictures(mnist_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(typical, mean) digit images of the MNIST training data (embedded subset unless ``mnist_dir``)."""
    from explainers.data import load_mnist

    return class_pictures(load_mnist(Path(mnist_dir) if mnist_dir else None))


def plan_checks(
    n_checks: int, rng: random.Random, n_options: int = 4, n_classes: int = len(MNIST_CLASSES)
) -> list[CheckPlan]:
    """``n_checks`` checks, each with ``n_options - 1`` distractors of other classes.

    The checks ask about distinct classes; with more checks than classes, every class is asked
    about once before any is asked about again. With two or more distractors the first two show
    the same class (the paper's twins) and the rest distinct others; one distractor shows one
    other class. Where there are fewer other classes than distractors need (three classes, five
    options), the other classes are shown in one drawn order and again in the same order, so
    distractors repeat as evenly as they can and never show the class asked about. For MNIST's
    ten classes and four options the draws are the ones this function always made, so a seed
    builds the same checks as before.
    """
    if not MIN_ATTENTION_CHECKS <= n_checks <= MAX_ATTENTION_CHECKS:
        raise ValueError(f"between {MIN_ATTENTION_CHECKS} and {MAX_ATTENTION_CHECKS} attention checks")
    if n_options < 2:
        raise ValueError("at least 2 options (the correct one and a distractor)")
    if n_classes < 2:
        raise ValueError("at least 2 classes (the one asked about and another)")
    asked: list[int] = []
    while len(asked) < n_checks:
        asked += rng.sample(range(n_classes), min(n_classes, n_checks - len(asked)))
    plans = []
    n_drawn = max(1, n_options - 2)
    for digit in asked:
        others = [d for d in range(n_classes) if d != digit]
        if n_drawn <= len(others):
            drawn = rng.sample(others, n_drawn)
        else:
            drawn = (rng.sample(others, len(others)) * math.ceil(n_drawn / len(others)))[:n_drawn]
        distractors = tuple(drawn) if n_options == 2 else (drawn[0], *drawn)
        plans.append(CheckPlan(digit=digit, distractors=distractors))
    return plans


def default_size(shape: tuple[int, ...]) -> tuple[int, int]:
    """(width, height) of a picture when no map gives one: a map's of the same height and width."""
    return render.picture_size(tuple(shape[1:]))


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) of a PNG (a map's: the check pictures are drawn at its size)."""
    return Image.open(io.BytesIO(png)).size


def class_png(
    values: np.ndarray,
    shape: tuple[int, ...] = MNIST_SHAPE,
    size: tuple[int, int] | None = None,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> bytes:
    """A picture of one image (C*H*W values) at ``size`` (width, height; default :func:`default_size`).

    One channel: in the maps' colour map, scaled by its own maximum (``render.map_png``'s rule, the
    same bytes for MNIST); three channels: the colour image itself, ``value_range`` as 0..255.
    """
    channels, height, width = shape
    values = np.asarray(values, dtype=np.float32).reshape(channels, height, width)
    if channels == 1:
        unit = render.to_unit(values[0])
        rgb = (colormaps[render.COLORMAP](unit)[:, :, :3] * 255).round().astype(np.uint8)
    elif channels == 3:
        low, high = value_range
        scaled = (np.clip(values.transpose(1, 2, 0), low, high) - low) / ((high - low) or 1.0)
        rgb = (scaled * 255).round().astype(np.uint8)
    else:
        raise ValueError(f"{channels} channels: pictures are drawn of grey (1) or colour (3) images")
    image = Image.fromarray(rgb, mode="RGB").resize(size or default_size(shape), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def digit_png(values: np.ndarray) -> bytes:
    """An MNIST image's picture (:func:`class_png` of MNIST's shape)."""
    return class_png(values)


def example_png(
    typical: np.ndarray,
    means: np.ndarray,
    digit: int = EXAMPLE_DIGIT,
    shape: tuple[int, ...] = MNIST_SHAPE,
    size: tuple[int, int] | None = None,
) -> bytes:
    """Fig. 3's example: a typical image of class ``digit`` with a blue oval around its most distinctive pixels.

    The distinctive pixels are those far brighter in this class's mean image than in the mean of
    the others, within the typical image's strokes (one channel, as MNIST's digits); for colour
    images, those whose colour differs most from the other classes' mean.
    """
    channels, height, width = shape
    means = np.asarray(means, dtype=np.float32).reshape(len(means), channels, height, width)
    others = np.delete(means, digit, axis=0).mean(axis=0)
    if channels == 1:
        contrast = (means[digit] - others)[0] * (np.asarray(typical[digit]).reshape(height, width) > 0.3)
    else:
        contrast = np.abs(means[digit] - others).sum(axis=0)
    n_top = max(1, round(EXAMPLE_PIXELS * height * width / MNIST_PIXELS))
    top = np.argsort(contrast.ravel())[-n_top:]
    rows, cols = np.unravel_index(top, (height, width))
    png = class_png(typical[digit], shape, size)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    scale_x, scale_y = image.width / width, image.height / height
    unit = max(height, width) / MNIST_SHAPE[1]  # MNIST pixels in this image's pixels
    cy, cx = (rows.mean() + 0.5) * scale_y, (cols.mean() + 0.5) * scale_x
    ry = max(np.ptp(rows) / 2 + EXAMPLE_MARGIN * unit, EXAMPLE_MIN_RADIUS * unit) * scale_y
    rx = max(np.ptp(cols) / 2 + EXAMPLE_MARGIN * unit, EXAMPLE_MIN_RADIUS * unit) * scale_x
    ImageDraw.Draw(image).ellipse((cx - rx, cy - ry, cx + rx, cy + ry), outline=(40, 110, 255), width=6)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def picture_values(data: bytes, shape: tuple[int, ...] = MNIST_SHAPE) -> np.ndarray:
    """A researcher's replacement picture as C*H*W values in [0, 1] (grey levels for one channel, RGB
    for three, channel-major), brought to the study's image size."""
    channels, height, width = shape
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # Pillow raises many types for non-images
        raise ValueError(f"not a readable image ({exc.__class__.__name__})") from None
    mode = "L" if channels == 1 else "RGB"
    resized = image.convert(mode).resize((width, height), Image.Resampling.LANCZOS)
    values = np.asarray(resized, dtype=np.float32).reshape(height, width, -1).transpose(2, 0, 1) / 255.0
    if values.max() <= 0:
        raise ValueError("the image is blank")
    return values.reshape(-1)
