"""Saliency methods of the NormLIME study: plain PyTorch/NumPy, no Django.

Names are the ones used everywhere (arrays, files, database, reports):
``normlime``, ``lime``, ``smoothgrad``, ``vargrad``, ``shap``, ``random``.
"""
from .integrated_gradients import integrated_gradients, integrated_gradients_class_maps
from .lime import lime_local
from .noise_tunnel import NoiseTunnelMaps, class_mean_maps, noise_tunnel, smoothgrad_sq, vargrad
from .normlime import lime_sp, normlime
from .random_baseline import random_importance
from .shap import kernel_shap

SURVEY_METHODS = ("normlime", "lime", "smoothgrad", "vargrad")
ALL_METHODS = SURVEY_METHODS + ("shap", "random")

__all__ = [
    "ALL_METHODS",
    "NoiseTunnelMaps",
    "SURVEY_METHODS",
    "class_mean_maps",
    "integrated_gradients",
    "integrated_gradients_class_maps",
    "kernel_shap",
    "lime_local",
    "lime_sp",
    "noise_tunnel",
    "normlime",
    "random_importance",
    "smoothgrad_sq",
    "vargrad",
]
