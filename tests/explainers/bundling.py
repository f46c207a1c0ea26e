"""Builders for the bundle tests: a registered set made without training, and bundles altered on purpose."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from explainers import bundles
from explainers.methods import registry
from explainers.models import ExplanationSet
from explainers.services import register_explanation_set

#: The layout of a small colour data set: three named classes of 3 x 12 x 16 images.
COLOUR_LAYOUT = {
    "classes": ["circle", "square", "triangle"],
    "shape": [3, 12, 16],
    "value_range": [0.0, 1.0],
    "noun": "class",
}


def raw_maps(seed: int = 0, n_classes: int = 10, pixels: int = 784) -> dict[str, np.ndarray]:
    """maps.npz's arrays of the paper's four methods as generate_explanations writes them (signed ones too)."""
    rng = np.random.default_rng(seed)
    maps = {}
    for name in registry.names(paper=True):
        if registry.get(name).signed:
            signed = rng.normal(size=(n_classes, pixels))
            maps[name], maps[f"{name}_signed"] = np.abs(signed), signed
            maps[f"{name}_global"] = np.abs(rng.normal(size=pixels))
        else:
            maps[name] = rng.random((n_classes, pixels))
    return maps


def write_set(root: Path, name: str = "paper", seed: int = 0, layout: dict | None = None) -> ExplanationSet:
    """A set folder under ``root`` (maps.npz, local_weights.npz, PNGs, overview, manifest), registered;
    of MNIST, or of the data set whose ``layout`` is given (e.g. :data:`COLOUR_LAYOUT`)."""
    folder = root / name
    (folder / "png").mkdir(parents=True)
    _, height, width = layout["shape"] if layout else (1, 28, 28)
    n_classes = len(layout["classes"]) if layout else 10
    maps = raw_maps(seed, n_classes, height * width)
    np.savez_compressed(folder / "maps.npz", **maps)
    np.savez_compressed(folder / "local_weights.npz", W=np.zeros((20, height * width)), labels=np.zeros(20, dtype=int))
    manifest = {
        "name": name,
        "model": {"sha256": "ab" * 32, "path": "/laptop/model/mnist_cnn.pt"},
        "data": {"source": "embedded 5k MNIST subset", **(layout or {})},
        "parameters": {"per_class": 2, "seed": seed},
        "explained": {"local_explanations": 20},
        "seconds": {"total": 1.0},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    explanation_set = register_explanation_set(name, folder, maps, manifest)
    (folder / "overview.png").write_bytes(bytes(explanation_set.overview_png))
    for class_map in explanation_set.maps.all():
        (folder / "png" / f"{class_map.method}_{class_map.digit}.png").write_bytes(bytes(class_map.png))
    return explanation_set


def rebundle(
    source: Path,
    target: Path,
    members: dict[str, bytes | None] | None = None,
    index: dict | None = None,
    relist: bool = True,
) -> Path:
    """A copy of the bundle ``source`` with ``members`` replaced, added (bytes) or dropped (None).

    With ``relist``, bundle.json lists the members of the copy with their true sizes and checksums
    (so only the other checks can refuse it); ``index`` then replaces keys of bundle.json.
    """
    with zipfile.ZipFile(source) as zf:
        contents = {name: zf.read(name) for name in zf.namelist()}
    listing = json.loads(contents.pop(bundles.INDEX))
    for name, data in (members or {}).items():
        if data is None:
            contents.pop(name)
        else:
            contents[name] = data
    if relist:
        listing["members"] = {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in contents.items()
        }
    listing.update(index or {})
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            zf.writestr(name, data)
        zf.writestr(bundles.INDEX, json.dumps(listing))
    return target


def written(data_dir: Path) -> tuple[list[str], list[str]]:
    """What the database and the data folder hold: the sets' names and every path under the folder."""
    names = sorted(ExplanationSet.objects.values_list("name", flat=True))
    paths = sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*")) if data_dir.exists() else []
    return names, paths


def class_maps(explanation_set: ExplanationSet) -> dict[tuple[str, int], tuple[bytes, bytes]]:
    return {(m.method, m.digit): (bytes(m.values), bytes(m.png)) for m in explanation_set.maps.all()}
