"""Explanation-set bundles: one zip file that moves a set from one machine to another.

A bundle holds what registering a set needs, each member with its checksum:

- ``maps.npz``: the raw maps of the set's folder (signed maps included), so that
  :func:`explainers.services.register_explanation_set` makes exactly the same class maps;
- ``manifest.json``, ``overview.png`` and ``png/METHOD_DIGIT.png``: the registered set's
  manifest and pictures, taken from the database rows (what the gallery shows), laid out as
  ``generate_explanations`` lays out its folder;
- ``bundle.json``, written last: the format, its version, the set's name, when it was made and
  the size and sha256 of every other member.

``local_weights.npz`` stays behind: registering does not need it, and it is the largest file.

Import checks the whole file before it writes anything (a complete zip of this format, known
version, every member listed and intact, no path leaving the folder, a bounded size, maps that
load without pickle, a free name); then it unpacks into a temporary folder renamed into
``DATA_DIR/explanations/NAME`` and registers the set, removing the folder if that fails.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import numpy as np

from . import cli
from .data import layout_of
from .files import atomic_write, to_json
from .generation import MANIFEST, displayed_maps, write_manifest
from .methods import registry
from .models import ExplanationSet
from .services import SET_NAME, register_explanation_set

#: What ``bundle.json`` says a bundle is; both sides read these two constants.
FORMAT = "normlime-explanation-set"
VERSION = 1
KNOWN_VERSIONS = frozenset({VERSION})

INDEX = "bundle.json"
MAPS = "maps.npz"
OVERVIEW = "overview.png"
REQUIRED = (MAPS, MANIFEST, OVERVIEW)
#: Unpacked size above which a file is refused (a set of every method is a few MB; this stops a zip bomb).
MAX_UNPACKED = 1 << 30
MAX_INDEX = 1 << 20
#: Names in maps.npz beside a method's displayed array: a method's name, optionally with one of these.
MAP_SUFFIXES = ("_signed", "_global")
_CHUNK = 1 << 20


class BundleError(Exception):
    """A bundle that cannot be written or read; the message is one line, naming what is wrong."""


@dataclass(frozen=True)
class BundleSummary:
    """What :func:`export_set` wrote."""

    path: Path
    members: dict[str, dict]  # member -> {"sha256", "size"} (bundle.json not included)
    size: int  # bytes of the zip file
    sha256: str  # of the zip file


def png_member(method: str, digit: int) -> str:
    return f"png/{method}_{digit}.png"


def export_set(explanation_set: ExplanationSet, path: str | Path, force: bool = False) -> BundleSummary:
    """Write ``explanation_set`` as a bundle at ``path`` (atomically; an existing file only if ``force``)."""
    path = Path(path)
    if path.is_dir():
        raise BundleError(f"{path}: is a folder (expected a file path such as {path / 'set.zip'})")
    if path.exists() and not force:
        raise BundleError(f"{path}: exists (--force replaces it)")
    if not path.parent.is_dir():
        raise BundleError(f"{path.parent}: no such folder")
    maps_path = Path(explanation_set.directory) / MAPS
    try:
        maps_bytes = maps_path.read_bytes()
    except OSError:
        raise BundleError(f"{maps_path}: missing; the set's raw maps are needed to export it") from None
    _check_folder_maps(explanation_set, maps_path, maps_bytes)

    contents: dict[str, bytes] = {
        MAPS: maps_bytes,
        MANIFEST: to_json(explanation_set.manifest).encode(),
        OVERVIEW: bytes(explanation_set.overview_png),
    }
    for class_map in explanation_set.maps.order_by("method", "digit"):
        contents[png_member(class_map.method, class_map.digit)] = bytes(class_map.png)
    members = {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in contents.items()}
    index = {
        "format": FORMAT,
        "version": VERSION,
        "name": explanation_set.name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "members": members,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            zf.writestr(name, data)
        zf.writestr(INDEX, json.dumps(index, indent=2))  # last: a reader that finds it saw the whole file written
    data = buffer.getvalue()
    atomic_write(path, data)
    return BundleSummary(path=path, members=members, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def _check_folder_maps(explanation_set: ExplanationSet, maps_path: Path, maps_bytes: bytes) -> None:
    """Refuse a folder whose maps.npz no longer makes the registered maps (the bundle would not give the same set)."""
    try:
        with np.load(io.BytesIO(maps_bytes), allow_pickle=False) as arrays:
            shown = displayed_maps({key: arrays[key] for key in arrays.files})
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        raise BundleError(f"{maps_path}: unreadable") from None
    registered = {(m.method, m.digit): m.array().ravel() for m in explanation_set.maps.all()}
    in_folder = {(method, digit): values[digit] for method, values in shown.items() for digit in range(len(values))}
    if registered.keys() != in_folder.keys() or any(
        not np.array_equal(registered[key], in_folder[key].astype(np.float32)) for key in registered
    ):
        raise BundleError(
            f"{maps_path}: does not give the registered maps of set '{explanation_set.name}' (changed since?)"
        )


def import_set(path: str | Path, name: str | None = None) -> ExplanationSet:
    """Register the bundle at ``path`` as the set ``name`` (default: the bundle's), its files in the data folder."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BundleError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BundleError(f"{path}: is a folder, not a bundle") from None
    except (zipfile.BadZipFile, EOFError, OSError):
        raise BundleError(f"{path}: not a complete bundle (truncated or not a zip)") from None
    with zf:
        index = _check_archive(path, zf)
        name = _free_name(name if name is not None else index["name"], from_bundle=name is None)
        manifest = _read_manifest(path, zf)
        maps = _read_maps(path, zf, map_shape(manifest))
        target = cli.default_explanations_dir().parent / name  # beside the default set, as generation puts them
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise BundleError(f"{target}: exists and is not empty; import with --name NEW")
        _unpack(path, zf, index["members"], target)
    manifest["name"] = name
    try:
        write_manifest(target, manifest)  # the folder says the name it is registered under
        return register_explanation_set(name, target, maps, manifest)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _check_archive(path: Path, zf: zipfile.ZipFile) -> dict:
    """bundle.json's contents, once the format, the members' paths, sizes and checksums are all right."""
    infos = zf.infolist()
    names = [info.filename for info in infos]
    for member in names:
        if not _safe(member):
            raise BundleError(f"{path}: member {member!r} would be written outside the set's folder; refused")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BundleError(f"{path}: member {twice[0]} appears more than once; refused")
    if sum(info.file_size for info in infos) > MAX_UNPACKED:
        raise BundleError(f"{path}: unpacks to more than {MAX_UNPACKED >> 20} MiB; refused")
    if INDEX not in names:
        raise BundleError(f"{path}: not an explanation-set bundle (no {INDEX})")
    info = zf.getinfo(INDEX)
    if info.file_size > MAX_INDEX:
        raise BundleError(f"{path}: not an explanation-set bundle ({INDEX} is too large)")
    try:
        index = json.loads(_read(path, zf, INDEX))
    except ValueError:
        index = None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise BundleError(f"{path}: not an explanation-set bundle ({INDEX} is not of {FORMAT})")
    version = index.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in KNOWN_VERSIONS:
        known = ", ".join(str(v) for v in sorted(KNOWN_VERSIONS))
        raise BundleError(
            f"{path}: bundle version {version!r} is unknown here (known: {known}); "
            "import it with the code that wrote it"
        )
    members = index.get("members")
    if not isinstance(members, dict) or not isinstance(index.get("name"), str):
        raise BundleError(f"{path}: {INDEX} lacks the set's name or its members")
    for member in REQUIRED:
        if member not in members:
            raise BundleError(f"{path}: {member}: missing from the bundle")
    unlisted = sorted(set(names) - set(members) - {INDEX})
    if unlisted:
        raise BundleError(f"{path}: {unlisted[0]}: not listed in {INDEX} (added to the bundle?)")
    for member, listed in members.items():
        if member not in names:
            raise BundleError(f"{path}: {member}: missing from the bundle")
        if not (
            isinstance(listed, dict) and isinstance(listed.get("size"), int) and isinstance(listed.get("sha256"), str)
        ):
            raise BundleError(f"{path}: {member}: {INDEX} lacks its size or sha256")
        if zf.getinfo(member).file_size != listed["size"]:
            raise BundleError(f"{path}: {member}: size differs from the bundle's (damaged or changed)")
        if _stream(path, zf, member) != listed["sha256"]:
            raise BundleError(f"{path}: {member}: checksum differs from the bundle's (damaged or changed)")
    return index


def _safe(member: str) -> bool:
    """A relative path that stays inside the folder it is unpacked into (no zip slip)."""
    pure = PurePosixPath(member)
    return (
        bool(member)
        and "\\" not in member
        and ":" not in member
        and not pure.is_absolute()
        and pure.as_posix() == member
        and all(part not in ("", ".", "..") for part in pure.parts)
    )


def _stream(path: Path, zf: zipfile.ZipFile, member: str, sink: Callable[[bytes], object] | None = None) -> str:
    """The sha256 of a member's bytes, each block also given to ``sink``."""
    digest = hashlib.sha256()
    try:
        with zf.open(member) as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                digest.update(block)
                if sink is not None:
                    sink(block)
    except (zipfile.BadZipFile, EOFError, zlib.error, RuntimeError, NotImplementedError):
        raise BundleError(f"{path}: {member}: unreadable (damaged or changed)") from None
    return digest.hexdigest()


def _read(path: Path, zf: zipfile.ZipFile, member: str) -> bytes:
    blocks: list[bytes] = []
    _stream(path, zf, member, blocks.append)
    return b"".join(blocks)


def _free_name(name: str, from_bundle: bool) -> str:
    if not SET_NAME.match(name):
        where = "the bundle's name" if from_bundle else "--name"
        raise BundleError(f"{where} {name!r}: use letters, digits, '-' and '_' only")
    if ExplanationSet.objects.filter(name=name).exists():
        raise BundleError(f"explanation set '{name}' exists; import with --name NEW")
    return name


def map_shape(manifest: dict) -> tuple[int, int]:
    """The shape of one method's class maps in a set of this manifest: n_classes x (H*W), from the layout
    its ``data`` records (MNIST's, 10 x 784, when it records none)."""
    layout = layout_of(manifest.get("data"))
    _, height, width = layout["shape"]
    return len(layout["classes"]), int(height) * int(width)


def _read_maps(path: Path, zf: zipfile.ZipFile, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """maps.npz's arrays, once each is an array of a registered method with the displayed maps' ``shape``."""
    try:
        with np.load(io.BytesIO(_read(path, zf, MAPS)), allow_pickle=False) as arrays:
            maps = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        raise BundleError(f"{path}: {MAPS}: not maps saved by NumPy without pickled objects") from None
    known = registry.names()
    for key, values in maps.items():
        method = next((key.removesuffix(s) for s in MAP_SUFFIXES if key.endswith(s)), key)
        if method not in known:
            raise BundleError(f"{path}: {MAPS}: {key!r} is not a map of a registered method ({', '.join(known)})")
        if values.dtype.kind not in "fiu":
            raise BundleError(f"{path}: {MAPS}: {key!r} holds {values.dtype} values, not numbers")
    shown = displayed_maps(maps)
    if not shown:
        raise BundleError(f"{path}: {MAPS}: holds no displayed map of a registered method")
    for method, values in shown.items():
        if values.shape != shape or not np.isfinite(values).all():
            raise BundleError(
                f"{path}: {MAPS}: {method}'s maps are {'x'.join(map(str, values.shape))}, "
                f"not {'x'.join(map(str, shape))} finite numbers"
            )
    return maps


def _read_manifest(path: Path, zf: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(_read(path, zf, MANIFEST))
        if not (isinstance(manifest["model"]["sha256"], str) and isinstance(manifest["data"]["source"], str)):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise BundleError(f"{path}: {MANIFEST}: not a set's manifest (needs model.sha256 and data.source)") from None
    layout = layout_of(manifest["data"])
    classes, shape = layout.get("classes"), layout.get("shape")
    if not (
        isinstance(classes, list)
        and classes
        and all(isinstance(c, str) for c in classes)
        and isinstance(shape, list)
        and len(shape) == 3
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
    ):
        raise BundleError(f"{path}: {MANIFEST}: data's classes and shape [C, H, W] are not a data set's layout")
    return manifest


def _unpack(path: Path, zf: zipfile.ZipFile, members: dict[str, dict], target: Path) -> None:
    """Write the members into a temporary folder beside ``target``, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        for member, listed in members.items():
            out = tmp / member
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(out, "wb") as f:
                if _stream(path, zf, member, f.write) != listed["sha256"]:  # the file changed since it was checked
                    raise BundleError(f"{path}: {member}: checksum differs from the bundle's (damaged or changed)")
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; give the usual permissions
        tmp.replace(target)  # replaces an empty folder, if one was there
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
