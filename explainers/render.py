"""Saliency maps as pictures: one 28x28 map per PNG, upscaled without smoothing, one colour map.

No Django import: used by the commands and reused by the survey and KAR figures.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from .methods.registry import label  # noqa: E402

COLORMAP = "inferno"  # perceptually uniform, readable in grey, the same for every method
SCALE = 10  # 28 px -> 280 px


def displayed(values: np.ndarray) -> np.ndarray:
    """What is shown of a map: its positive part (for signed LIME/NormLIME maps, the paper's rule)."""
    return np.clip(np.asarray(values, dtype=np.float64), 0, None)


def to_unit(values: np.ndarray) -> np.ndarray:
    """Scale a non-negative map to [0, 1] by its own maximum (an all-zero map stays 0)."""
    v = displayed(values)
    top = v.max() if v.size else 0.0
    return v / top if top > 0 else np.zeros_like(v)


def map_png(values: np.ndarray, scale: int = SCALE) -> bytes:
    """PNG bytes of a 784-vector (or 28x28) map, each pixel a square of ``scale`` x ``scale``."""
    unit = to_unit(np.asarray(values).reshape(28, 28))
    rgb = (plt.get_cmap(COLORMAP)(unit)[:, :, :3] * 255).round().astype(np.uint8)
    image = Image.fromarray(rgb, mode="RGB").resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def overview_png(maps: dict[str, np.ndarray], methods: list[str], title: str | None = None) -> bytes:
    """A methods x digits grid like the paper's Fig. 1 (each map scaled by its own maximum)."""
    n_rows, n_cols = len(methods), 10
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.3 * n_cols + 1.2, 1.35 * n_rows + 0.6), squeeze=False)
    for r, method in enumerate(methods):
        for digit in range(n_cols):
            ax = axes[r][digit]
            ax.imshow(
                to_unit(maps[method][digit].reshape(28, 28)), cmap=COLORMAP, vmin=0, vmax=1, interpolation="nearest"
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(str(digit), fontsize=12)
            if digit == 0:
                ax.set_ylabel(label(method), fontsize=11)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()
