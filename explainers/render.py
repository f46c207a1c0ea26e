"""Saliency maps as pictures: one H x W map per PNG, upscaled without smoothing, one colour map.

A map's pixels become squares of :func:`scale_for` pixels, so that its longer side is about
:data:`SIDE` pixels (MNIST's 28 x 28 maps: 280 x 280, ten pixels a square).

No Django import: used by the commands and reused by the survey and KAR figures.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from .data import MNIST_CLASSES, MNIST_SHAPE  # noqa: E402
from .methods.registry import label  # noqa: E402

COLORMAP = "inferno"  # perceptually uniform, readable in grey, the same for every method
SIDE = 280  # pixels of a picture's longer side, about
MNIST_MAP_SHAPE = MNIST_SHAPE[1:]
SCALE = SIDE // MNIST_MAP_SHAPE[0]  # 28 px -> 280 px


def scale_for(shape) -> int:
    """Pixels per map pixel so that the picture's longer side is about :data:`SIDE` (at least 1)."""
    return max(1, round(SIDE / max(shape)))


def picture_size(shape) -> tuple[int, int]:
    """(width, height) in pixels of the PNG of a map of ``shape`` (H, W)."""
    height, width = shape
    scale = scale_for(shape)
    return width * scale, height * scale


def displayed(values: np.ndarray) -> np.ndarray:
    """What is shown of a map: its positive part (for signed LIME/NormLIME maps, the paper's rule)."""
    return np.clip(np.asarray(values, dtype=np.float64), 0, None)


def to_unit(values: np.ndarray) -> np.ndarray:
    """Scale a non-negative map to [0, 1] by its own maximum (an all-zero map stays 0)."""
    v = displayed(values)
    top = v.max() if v.size else 0.0
    return v / top if top > 0 else np.zeros_like(v)


def map_shape_of(values: np.ndarray, shape=None) -> tuple[int, int]:
    """(H, W) of a map: its own when it is 2-D, else ``shape`` (default MNIST's 28 x 28)."""
    values = np.asarray(values)
    if values.ndim == 2 and shape is None:
        return values.shape
    height, width = shape if shape is not None else MNIST_MAP_SHAPE
    if values.size != height * width:
        raise ValueError(f"a map of {values.size} values is not {height} x {width}")
    return int(height), int(width)


def map_png(values: np.ndarray, scale: int | None = None, *, shape=None) -> bytes:
    """PNG bytes of a map (H*W values with ``shape`` (H, W), default 28 x 28, or an H x W array),
    each pixel a square of ``scale`` x ``scale`` (default :func:`scale_for` the shape)."""
    height, width = map_shape_of(values, shape)
    scale = scale or scale_for((height, width))
    unit = to_unit(np.asarray(values).reshape(height, width))
    rgb = (plt.get_cmap(COLORMAP)(unit)[:, :, :3] * 255).round().astype(np.uint8)
    image = Image.fromarray(rgb, mode="RGB").resize((width * scale, height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def overview_png(
    maps: dict[str, np.ndarray],
    methods: list[str],
    title: str | None = None,
    *,
    classes=MNIST_CLASSES,
    shape=MNIST_MAP_SHAPE,
) -> bytes:
    """A methods x classes grid like the paper's Fig. 1 (each map scaled by its own maximum), a
    column per class of ``classes`` (names in label order) headed by its name; maps of ``shape`` (H, W)."""
    n_rows, n_cols = len(methods), len(classes)
    height, width = shape
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.3 * n_cols + 1.2, 1.35 * n_rows + 0.6), squeeze=False)
    for r, method in enumerate(methods):
        for digit in range(n_cols):
            ax = axes[r][digit]
            ax.imshow(
                to_unit(maps[method][digit].reshape(height, width)),
                cmap=COLORMAP,
                vmin=0,
                vmax=1,
                interpolation="nearest",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(str(classes[digit]), fontsize=12)
            if digit == 0:
                ax.set_ylabel(label(method), fontsize=11)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()
