"""Saliency methods of the NormLIME study: plain PyTorch/NumPy, no Django.

Every method is described once in :mod:`explainers.methods.registry` (names,
labels, colours, how its class map is made). The functions below are loaded on
first use, so that importing the registry (as the model choices do on every
page) does not import torch.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from .registry import NAMES as ALL_METHODS
from .registry import PAPER_METHODS as SURVEY_METHODS

_LAZY = {
    "integrated_gradients": "integrated_gradients",
    "integrated_gradients_class_maps": "integrated_gradients",
    "baseline_image": "integrated_gradients",
    "lime_local": "lime",
    "NoiseTunnelMaps": "noise_tunnel",
    "class_mean_maps": "noise_tunnel",
    "noise_tunnel": "noise_tunnel",
    "smoothgrad_sq": "noise_tunnel",
    "vargrad": "noise_tunnel",
    "lime_sp": "normlime",
    "normlime": "normlime",
    "random_importance": "random_baseline",
    "kernel_shap": "shap",
    "patch_shap": "shap",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


class _Package(types.ModuleType):
    """Keeps the functions ``normlime`` and ``noise_tunnel`` bound under their names.

    Importing a submodule binds it on the package under its own name; two
    submodules share their name with the function they export, so a direct
    ``import explainers.methods.noise_tunnel`` would otherwise shadow the
    function for every later ``from explainers.methods import noise_tunnel``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["ALL_METHODS", "SURVEY_METHODS", *_LAZY]
