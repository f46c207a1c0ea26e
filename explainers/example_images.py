"""A small ImageFolder of three named RGB classes, drawn here (nothing is downloaded).

Each image is a coloured shape (a circle, a square or a triangle) of random size, position
and colour on a noisy background: a task a small CNN learns in a few epochs, and one whose
saliency maps a person can judge (the shape's outline is what tells the classes apart). The
tests and the "Use your own images" docs use it; ``manage.py example_images DIR`` writes it.

Plain NumPy and Pillow; no Django.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ("circle", "square", "triangle")
SIZE = 32
PER_CLASS = 40


def draw(shape: str, size: int, rng: np.random.Generator):
    """One ``size`` x ``size`` RGB picture of ``shape`` (a PIL image)."""
    from PIL import Image, ImageDraw

    background = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
    image = Image.fromarray(background, mode="RGB")
    pen = ImageDraw.Draw(image)
    colour = tuple(int(c) for c in rng.integers(120, 256, size=3))
    radius = rng.uniform(0.22, 0.38) * size
    cx, cy = rng.uniform(radius + 1, size - radius - 1, size=2)
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    if shape == "circle":
        pen.ellipse(box, fill=colour)
    elif shape == "square":
        pen.rectangle(box, fill=colour)
    elif shape == "triangle":
        pen.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)], fill=colour)
    else:
        raise ValueError(f"unknown shape {shape!r} (known: {', '.join(CLASSES)})")
    return image


def write_example_folder(
    root: str | Path, per_class: int = PER_CLASS, size: int = SIZE, seed: int = 0, classes=CLASSES
) -> Path:
    """Write ``root/CLASS/NNN.png`` for each class; returns ``root``. The same seed writes the same bytes."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for shape in classes:
        folder = root / shape
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            draw(shape, size, rng).save(folder / f"{i:03d}.png", optimize=False)
    return root
