"""Writes to the database that carry rules: registering an explanation set with its maps."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from django.db import transaction

from . import render
from .data import layout_of
from .generation import displayed_maps, overview_rows
from .models import ClassMap, ExplanationSet

#: What an explanation set may be called (it is a folder name and a URL part).
SET_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")


class SetInUse(Exception):
    """The set already backs a study: replacing its maps would rewrite what the study's record says it showed."""


def check_replaceable(name: str) -> None:
    """Refuse to replace a set that a study was built from (checked before any work starts)."""
    existing = ExplanationSet.objects.filter(name=name).first()
    if existing is not None and hasattr(existing, "studies") and existing.studies.exists():
        slugs = ", ".join(existing.studies.values_list("slug", flat=True)[:5])
        raise SetInUse(f"explanation set '{name}' is used by study {slugs}; generate into another --name")


@transaction.atomic
def register_explanation_set(
    name: str, directory: str | Path, maps: dict[str, np.ndarray], manifest: dict
) -> ExplanationSet:
    """Create or replace the set ``name`` and the class maps of each method in ``maps`` (all or nothing).

    The manifest's ``data`` gives the layout (MNIST's when it has none): each method's displayed
    maps must be n_classes x (H*W), one per class, drawn with the class names.
    """
    check_replaceable(name)
    shown = displayed_maps(maps)
    layout = layout_of(manifest.get("data"))
    classes, map_shape = layout["classes"], tuple(layout["shape"][1:])
    expected = (len(classes), map_shape[0] * map_shape[1])
    for method, values in shown.items():
        if values.shape != expected:
            raise ValueError(
                f"{method}'s maps are {'x'.join(map(str, values.shape))}, but the set's layout needs "
                f"{'x'.join(map(str, expected))} ({len(classes)} classes of {map_shape[0]} x {map_shape[1]} pixels)"
            )
    explanation_set, _ = ExplanationSet.objects.update_or_create(
        name=name,
        defaults={
            "directory": str(Path(directory).resolve()),
            "model_sha256": manifest["model"]["sha256"],
            "data_source": manifest["data"]["source"][:300],
            "parameters": manifest.get("parameters", {}),
            "manifest": manifest,
            "overview_png": render.overview_png(shown, overview_rows(shown), classes=classes, shape=map_shape),
            "layout": layout,
        },
    )
    explanation_set.maps.all().delete()
    ClassMap.objects.bulk_create(
        ClassMap(
            explanation_set=explanation_set,
            method=method,
            digit=digit,
            values=shown[method][digit].astype(np.float32).tobytes(),
            png=render.map_png(shown[method][digit], shape=map_shape),
        )
        for method in shown
        for digit in range(len(shown[method]))
    )
    return explanation_set
