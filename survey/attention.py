"""Attention checks and the instructions' example, built from real MNIST digits.

In the spirit of the paper's Fig. 4: a check asks about digit N; the correct option plainly
shows N; the k - 1 distractors (three in the paper) show other digits, two of them identical
when there are at least two. The pictures are real
handwritten digits (for each class, the training image closest to the class mean: a typical,
clean example), drawn with the same colour map and size as the saliency maps.

Plain NumPy and Pillow, no Django.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from explainers import render

from .rules import MAX_ATTENTION_CHECKS, MIN_ATTENTION_CHECKS

EXAMPLE_DIGIT = 4  # Fig. 3 explains the task with the number four


@dataclass(frozen=True)
class CheckPlan:
    digit: int  # the digit asked about; the correct option shows it
    distractors: tuple[int, ...]  # digits shown by the k - 1 distractors, in slot order

    @property
    def twin(self) -> int:
        """The digit of the first distractor (with two or more distractors, of the identical pair)."""
        return self.distractors[0]


def typical_digits(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(10, 784): for each digit, the image closest to that digit's mean image."""
    images = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    labels = np.asarray(labels)
    out = np.zeros((10, images.shape[1]), dtype=np.float32)
    for digit in range(10):
        group = images[labels == digit]
        if len(group) == 0:
            raise ValueError(f"no image of digit {digit} in the data")
        distances = ((group - group.mean(axis=0)) ** 2).sum(axis=1)
        out[digit] = group[int(np.argmin(distances))]
    return out


def mean_digits(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    return np.stack([images[np.asarray(labels) == d].mean(axis=0) for d in range(10)])


@lru_cache(maxsize=4)
def digit_pictures(mnist_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(typical, mean) digit images of the training data (embedded subset unless ``mnist_dir``)."""
    from explainers.data import load_mnist

    data = load_mnist(Path(mnist_dir) if mnist_dir else None)
    return typical_digits(data.x_train, data.y_train), mean_digits(data.x_train, data.y_train)


def plan_checks(n_checks: int, rng: random.Random, n_options: int = 4) -> list[CheckPlan]:
    """``n_checks`` checks about distinct digits (up to 10), each with ``n_options - 1`` distractors.

    With two or more distractors the first two show the same digit (the paper's twins) and the
    rest distinct others; one distractor shows one other digit. For four options the draws are
    the ones this function always made, so a seed builds the same checks as before.
    """
    if not MIN_ATTENTION_CHECKS <= n_checks <= MAX_ATTENTION_CHECKS:
        raise ValueError(f"between {MIN_ATTENTION_CHECKS} and {MAX_ATTENTION_CHECKS} attention checks")
    if n_options < 2:
        raise ValueError("at least 2 options (the correct one and a distractor)")
    plans = []
    for digit in rng.sample(range(10), n_checks):
        drawn = rng.sample([d for d in range(10) if d != digit], max(1, n_options - 2))
        distractors = tuple(drawn) if n_options == 2 else (drawn[0], *drawn)
        plans.append(CheckPlan(digit=digit, distractors=distractors))
    return plans


def digit_png(values: np.ndarray) -> bytes:
    return render.map_png(np.asarray(values, dtype=np.float32).reshape(784))


def example_png(typical: np.ndarray, means: np.ndarray, digit: int = EXAMPLE_DIGIT) -> bytes:
    """Fig. 3's example: a typical ``digit`` with a blue oval around its most distinctive pixels.

    The distinctive pixels are those far brighter in this digit's mean image than in the mean
    of the other nine: present in this digit, absent in most others.
    """
    others = np.delete(means, digit, axis=0).mean(axis=0)
    contrast = (means[digit] - others).reshape(28, 28) * (typical[digit].reshape(28, 28) > 0.3)
    top = np.argsort(contrast.ravel())[-12:]
    rows, cols = np.unravel_index(top, (28, 28))
    scale = render.SCALE
    cy, cx = (rows.mean() + 0.5) * scale, (cols.mean() + 0.5) * scale
    ry = max(np.ptp(rows) / 2 + 2.5, 4) * scale
    rx = max(np.ptp(cols) / 2 + 2.5, 4) * scale
    image = Image.open(io.BytesIO(digit_png(typical[digit]))).convert("RGB")
    ImageDraw.Draw(image).ellipse((cx - rx, cy - ry, cx + rx, cy + ry), outline=(40, 110, 255), width=6)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def picture_values(data: bytes) -> np.ndarray:
    """A researcher's replacement picture as 784 values in [0, 1] (grey levels, 28x28)."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # Pillow raises many types for non-images
        raise ValueError(f"not a readable image ({exc.__class__.__name__})") from None
    grey = image.convert("L").resize((28, 28), Image.Resampling.LANCZOS)
    values = np.asarray(grey, dtype=np.float32) / 255.0
    if values.max() <= 0:
        raise ValueError("the image is blank")
    return values.reshape(784)
