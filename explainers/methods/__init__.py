"""Saliency methods of the NormLIME study: plain PyTorch/NumPy, no Django.

Every method is described once in :mod:`explainers.methods.registry` (names,
labels, colours, how its class map is made); ``registry.get``, ``registry.names``
and ``registry.resolve`` are the way in. The functions below are loaded on first
use, so that importing the registry (as the model choices do on every page)
does not import torch. No module shares its name with a function it exports,
so importing a submodule never shadows a function here.
"""

from __future__ import annotations

import importlib
from typing import Any

#: function -> the module of this package that defines it
_LAZY = {
    "integrated_gradients": "path_integral",
    "integrated_gradients_class_maps": "path_integral",
    "baseline_image": "path_integral",
    "lime_local": "lime",
    "NoiseTunnelMaps": "noisy_gradients",
    "class_mean_maps": "noisy_gradients",
    "noise_tunnel": "noisy_gradients",
    "smoothgrad_sq": "noisy_gradients",
    "vargrad": "noisy_gradients",
    "lime_sp": "aggregation",
    "normlime": "aggregation",
    "random_importance": "random_baseline",
    "kernel_shap": "shap",
    "patch_shap": "shap",
    "to_pixels": "channels",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


__all__ = list(_LAZY)
