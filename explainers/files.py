"""Writing artefacts safely and fingerprinting them (no Django; shared by explainers and analysis).

Every artefact goes through :func:`atomic_write`: a reader, or a resumed run,
never sees a half-written file, and a failed write leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
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
    refused folder) leaves none of them behind and the old files as they were."""
    temporary: dict[Path, str] = {}
    try:
        for path, data in contents.items():
            path = Path(path)
            temporary[path] = _write_temporary(path, data.encode("utf-8") if isinstance(data, str) else data)
        for path, tmp in temporary.items():
            os.replace(tmp, path)
    except BaseException:
        for tmp in temporary.values():
            Path(tmp).unlink(missing_ok=True)
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
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return atomic_write(path, buffer.getvalue())


def atomic_write_json(path: str | Path, obj, **dumps_kwargs) -> Path:
    return atomic_write(path, json.dumps(obj, indent=2, **dumps_kwargs))
