"""Register class maps computed elsewhere (Captum, another lab's code) as an explanation set.

The file's format is :data:`FORMAT` (``manage.py import_maps --help`` prints it). Everything is
checked before anything is written: the method names, at least two methods, the number of
classes and the map size against ``--data``'s layout, finite numbers, the ``meta`` entry, a free
set name and folder. Then the set's folder (``maps.npz`` as generation writes it,
``manifest.json``, ``overview.png``, ``png/METHOD_CLASS.png``) is written beside a temporary name
and renamed into ``DATA_DIR/explanations/NAME`` once the set is registered, in one transaction:
a failure leaves neither rows nor files.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from django.db import transaction

from . import cli
from .data import ImageData
from .files import atomic_savez, atomic_write, file_sha256
from .generation import write_manifest
from .methods import registry
from .models import ExplanationSet
from .services import SET_NAME, register_explanation_set

#: The name of the optional entry that describes the file (not a method).
META = "meta"
META_KEYS = ("labels", "source")
MIN_METHODS = 2

FORMAT = (
    "FILE.npz (numpy.savez) holds one array per method, named by its registry name ({names}), of shape "
    "(n_classes, H, W) or (n_classes, H*W): row k is the map of class k of --data (label order), one "
    "channel, finite numbers; at least two methods. A signed method's map (those whose maps have a sign: "
    "{signed}) is shown by its positive part, as generated ones are; any other's negative values show as 0. "
    f"Optionally a 0-d string array '{META}' holding JSON "
    '{{"labels": {{"METHOD": "what the source calls it"}}, "source": "e.g. Captum 0.8, saliency.py"}}, '
    "kept in the set's manifest."
)


def format_help() -> str:
    """:data:`FORMAT` with the registry's methods named."""
    signed = ", ".join(m.name for m in registry.METHODS if m.signed)
    return FORMAT.format(names=", ".join(registry.names()), signed=signed)


class MapsImportError(Exception):
    """A maps file or an option that cannot be imported; the message is one line naming what is wrong."""


def import_maps(
    path: str | Path, data: ImageData, name: str | None = None, model_path: str | Path | None = None
) -> ExplanationSet:
    """Register the maps in ``path`` (see :data:`FORMAT`) as the set ``name`` (default: the file's stem)
    of the data set ``data``; ``model_path`` is the model they explain (its sha256 is recorded)."""
    path = Path(path)
    if not path.is_file():
        raise MapsImportError(f"{path}: no such file")
    shown, meta = read_maps(path, data)
    name = _free_name(path, name)
    model = {"sha256": "none"}
    if model_path is not None:
        model_path = Path(model_path)
        if not model_path.is_file():
            raise MapsImportError(f"--model {model_path}: no such file")
        model = {"sha256": file_sha256(model_path), "path": str(model_path.resolve())}
    target = cli.default_explanations_dir().parent / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise MapsImportError(f"{target}: exists and is not empty; import with --name NEW")

    maps: dict[str, np.ndarray] = {}
    for method, values in shown.items():
        if registry.get(method).signed:  # as generation stores a signed map: its magnitude and itself
            maps[method], maps[f"{method}_signed"] = np.abs(values), values
        else:
            maps[method] = values
    manifest = {
        "name": name,
        "model": model,
        "data": data.describe(),
        "imported_from": {"file": str(path.resolve()), "sha256": file_sha256(path)},
        "source": meta.get("source"),
        "methods": {
            method: {
                "label": registry.label(method),
                "source": "imported",
                "signed": registry.get(method).signed,
                "labelled": meta.get("labels", {}).get(method),
            }
            for method in shown
        },
        "parameters": {},
        "shown": "the positive part of each signed map (NAME_signed in maps.npz); unsigned maps as given, "
        "negative values as 0; each PNG scaled to its own maximum",
    }
    return _write_and_register(name, target, maps, manifest)


def read_maps(path: Path, data: ImageData) -> tuple[dict[str, np.ndarray], dict]:
    """The file's maps, each (n_classes, H*W) float64 in registry order, and its ``meta`` (checked)."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if not hasattr(arrays, "files"):
                raise ValueError
            contents = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        raise MapsImportError(f"{path}: not an .npz file saved by NumPy without pickled objects") from None
    meta = _meta(path, contents.pop(META, None))
    known = registry.names()
    unknown = [key for key in contents if key not in known]
    if unknown:
        raise MapsImportError(
            f"{path}: {unknown[0]!r} is not a registered method; name the arrays by one of {', '.join(known)}"
        )
    if len(contents) < MIN_METHODS:
        raise MapsImportError(
            f"{path}: holds {len(contents)} method's maps; a set compares at least {MIN_METHODS} methods"
        )
    labels = meta.get("labels", {})
    stray = sorted(set(labels) - set(contents))
    if stray:
        raise MapsImportError(f"{path}: {META}'s labels name {stray[0]!r}, which has no maps in the file")
    return {method: _class_maps(path, method, contents[method], data) for method in known if method in contents}, meta


def _class_maps(path: Path, method: str, values: np.ndarray, data: ImageData) -> np.ndarray:
    n, height, width = data.n_classes, data.height, data.width
    if values.dtype.kind not in "fiu":
        raise MapsImportError(f"{path}: {method!r} holds {values.dtype} values, not numbers")
    if values.shape not in ((n, height, width), (n, height * width)):
        raise MapsImportError(
            f"{path}: {method}'s maps are {' x '.join(map(str, values.shape))}, but --data has {n} classes of "
            f"{height} x {width} pixels: give {n} x {height} x {width} (or {n} x {height * width})"
        )
    if not np.isfinite(values).all():
        raise MapsImportError(f"{path}: {method}'s maps hold NaN or infinite values")
    return values.reshape(n, height * width).astype(np.float64)


def _meta(path: Path, entry: np.ndarray | None) -> dict:
    if entry is None:
        return {}
    problem = f"{path}: '{META}' must be a 0-d string array of a JSON object with {' and/or '.join(META_KEYS)}"
    if entry.ndim != 0 or entry.dtype.kind not in "US":
        raise MapsImportError(problem)
    text = entry.item()
    try:
        meta = json.loads(text.decode() if isinstance(text, bytes) else text)
    except (ValueError, UnicodeDecodeError):
        raise MapsImportError(f"{problem} (it is not JSON)") from None
    if not isinstance(meta, dict) or set(meta) - set(META_KEYS):
        raise MapsImportError(problem)
    labels, source = meta.get("labels", {}), meta.get("source")
    if not (isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())):
        raise MapsImportError(f"{path}: {META}'s labels must map method names to strings")
    if source is not None and not isinstance(source, str):
        raise MapsImportError(f"{path}: {META}'s source must be a string")
    return meta


def _free_name(path: Path, name: str | None) -> str:
    given = name is not None
    name = name if given else path.stem
    if not SET_NAME.match(name):
        where = "--name" if given else f"the file's name {path.name!r} as a set name"
        raise MapsImportError(f"{where} {name!r}: use letters, digits, '-' and '_' only (or give --name)")
    if ExplanationSet.objects.filter(name=name).exists():
        raise MapsImportError(f"explanation set '{name}' exists; import with --name NEW")
    return name


def _write_and_register(name: str, target: Path, maps: dict[str, np.ndarray], manifest: dict) -> ExplanationSet:
    """Write the folder under a temporary name, register, add the pictures, rename; all or nothing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        with transaction.atomic():
            atomic_savez(tmp / "maps.npz", compressed=True, **maps)
            write_manifest(tmp, manifest)
            explanation_set = register_explanation_set(name, target, maps, manifest)
            (tmp / "png").mkdir()
            for class_map in explanation_set.maps.all():
                atomic_write(tmp / "png" / f"{class_map.method}_{class_map.digit}.png", bytes(class_map.png))
            atomic_write(tmp / "overview.png", bytes(explanation_set.overview_png))
            tmp.chmod(0o755)  # mkdtemp makes 0700: the folder is read like generation's
            tmp.replace(target)  # replaces an empty folder, if one was there
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return explanation_set
