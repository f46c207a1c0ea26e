"""One-channel maps from colour attributions: each method's rule (:class:`~.registry.Channels`).

A method attributes each of an image's C x H x W values (channel-major rows, as
:class:`explainers.data.ImageData` holds them); a map shows one value per pixel. The
registry says per method which rule makes the H x W map and why. Plain NumPy.
"""

from __future__ import annotations

import numpy as np

from .registry import Channels


def to_pixels(values, shape, rule: Channels) -> np.ndarray:
    """(n, H*W) per-pixel values of (n, C*H*W) attributions of images of ``shape`` (C, H, W) by ``rule``.

    One-channel rows are returned as they are (MNIST's maps do not change); ``Channels.NONE``
    expects rows that are per pixel already.
    """
    values = np.asarray(values)
    channels, height, width = (int(n) for n in shape)
    pixels = height * width
    if rule is Channels.NONE or channels == 1:
        if values.shape[-1] != pixels:
            raise ValueError(f"rows of {values.shape[-1]} values for {height} x {width} maps")
        return values
    if values.shape[-1] != channels * pixels:
        raise ValueError(f"rows of {values.shape[-1]} values for images of {channels} x {height} x {width}")
    stacked = values.reshape(*values.shape[:-1], channels, pixels)
    if rule is Channels.SUM:
        return stacked.sum(-2)
    if rule is Channels.MAX:
        return stacked.max(-2)
    return stacked[..., 0, :]  # SHARED: the channels are equal
