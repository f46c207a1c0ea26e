"""Writing artefacts safely and fingerprinting them (no Django; shared by explainers and analysis).

Every artefact goes through :func:`atomic_write`: a reader, or a resumed run,
never sees a half-written file, and a failed write leaves nothing behind.

A write that finds its volume full (or its quota spent) is raised as :class:`DiskFull`: an
``OSError`` that names the file, the space it needed and the space left, which commands turn
into one line (``explainers.cli.stops_on_a_full_disk``).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename."""
    return atomic_write_all({path: data})[0]


def atomic_write_all(contents: dict[str | Path, bytes | str]) -> list[Path]:
    """Write each path's data as :func:`atomic_write` does, all of them or none: every file is written
    to its temporary name first and only then are they renamed, so a failed write (a full disk, a
    refused folder) leaves none of them behind and the old files as they were. A full disk is raised
    as :class:`DiskFull`, naming the file that did not fit and the space all of them need."""
    blobs = {Path(path): data.encode("utf-8") if isinstance(data, str) else data for path, data in contents.items()}
    temporary: dict[Path, str] = {}
    path = None
    try:
        for path, data in blobs.items():
            temporary[path] = _write_temporary(path, data)
        for path, tmp in temporary.items():
            os.replace(tmp, path)
    except BaseException as exc:
        for tmp in temporary.values():
            Path(tmp).unlink(missing_ok=True)
        if is_disk_full(exc) and not isinstance(exc, DiskFull):  # measured now that the temporary files are gone
            needed = sum(space_needed(p.parent, len(data)) for p, data in blobs.items())
            raise DiskFull(exc.errno, path, needed, together=len(blobs)) from exc
        raise
    return list(temporary)


def _write_temporary(path: Path, data: bytes) -> str:
    """``data`` in a new temporary file beside ``path``, on disk, with the usual permissions; its name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def atomic_savez(path: str | Path, *, compressed: bool = False, **arrays) -> Path:
    return atomic_write(path, npz_bytes(compressed=compressed, **arrays))


def npz_bytes(*, compressed: bool = False, **arrays) -> bytes:
    """The ``.npz`` file of ``arrays`` (for one written with others by :func:`atomic_write_all`)."""
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def atomic_write_json(path: str | Path, obj, **dumps_kwargs) -> Path:
    return atomic_write(path, to_json(obj, **dumps_kwargs))


def to_json(obj, **dumps_kwargs) -> str:
    """The text :func:`atomic_write_json` writes (for a JSON file written with others by :func:`atomic_write_all`)."""
    return json.dumps(obj, indent=2, **dumps_kwargs)


# --------------------------------------------------------------------------
# A full disk
# --------------------------------------------------------------------------

#: The errors of a write that found no room: the volume is full, or the user's quota is spent.
DISK_FULL_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRORS


class DiskFull(OSError):
    """A write that did not fit on its volume: the file (``path``), the bytes it needed where known
    (``needed``, in whole blocks of the volume; for files written together, all of them), and what
    the volume has free now (``free``, on ``volume``)."""

    def __init__(self, code: int, path: str | Path, needed: int | None = None, *, together: int = 1):
        self.path = Path(path)
        self.needed = needed
        self.together = together
        self.volume = volume_of(self.path)
        self.free = shutil.disk_usage(self.volume).free
        super().__init__(code, os.strerror(code), str(self.path))

    def __str__(self) -> str:
        what = f"{self.path} (one of {self.together} files written together)" if self.together > 1 else str(self.path)
        need = (
            f"{'they need' if self.together > 1 else 'it needs'} about {format_bytes(self.needed)}, "
            if self.needed
            else ""
        )
        return f"{self.strerror} writing {what}: {need}{format_bytes(self.free)} free on {self.volume}"

    @classmethod
    def of(cls, exc: OSError, where: str | Path) -> DiskFull:
        """``exc`` (a full disk met outside this module: a folder made, a library's own write) as a
        :class:`DiskFull` of the file it names, else of ``where``; the space it needed is not known."""
        if isinstance(exc, DiskFull):
            return exc
        return cls(exc.errno, exc.filename or where)


def space_needed(folder: str | Path, size: int, start: int = 0) -> int:
    """The bytes of the volume's blocks that ``size`` bytes written from offset ``start`` of a file in
    ``folder`` add to it (what a write needs, not the length of its data)."""
    try:
        block = os.statvfs(volume_of(folder)).f_frsize or 1
    except (OSError, AttributeError):  # no statvfs (not on Unix): the data's length
        return size
    return (math.ceil((start + size) / block) - math.ceil(start / block)) * block


def volume_of(path: str | Path) -> Path:
    """The mount point of the volume that holds (or would hold) ``path``."""
    place = Path(os.path.abspath(path))
    while not place.exists() and place != place.parent:
        place = place.parent
    while not os.path.ismount(place) and place != place.parent:
        place = place.parent
    return place


def format_bytes(n: int) -> str:
    """``n`` bytes for a person: 512 bytes, 4.1 kB, 3.2 MB (powers of 1000, as disks are sold)."""
    if n < 1000:
        return f"{n} bytes"
    for unit in ("kB", "MB", "GB", "TB"):
        n /= 1000
        if n < 999.95 or unit == "TB":
            return f"{n:.1f} {unit}"
