"""A small volume that really fills up (a tmpfs of the test's own), and what a full disk must leave.

Mounting needs root; where it is refused the test is skipped and says why (see ``small_volume`` in
tests/conftest.py).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


class SmallVolume:
    """A tmpfs mounted on ``path``: ``resize`` it, ``fill`` what is left of it."""

    def __init__(self, path: Path):
        self.path = path
        self.mounted = False

    def mount(self, size: str) -> SmallVolume:
        self.path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            pytest.skip("cannot mount a tmpfs here: not root")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(self.path)], capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {(done.stderr or done.stdout).strip() or 'mount failed'}")
        self.mounted = True
        return self

    def resize(self, size: str) -> None:
        """Give the volume ``size`` in all (what freeing space does)."""
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True, capture_output=True)

    def fill(self) -> Path:
        """Take every byte the volume has left with a file of zeros (outside the command's folders)."""
        filler = self.path / "filler"
        with open(filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        return filler

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=True, capture_output=True)
            self.mounted = False


def leftovers(folder: Path) -> list[str]:
    """Temporary files of a write that did not finish (``.name.XXXX`` of explainers.files, or ``*.tmp``)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp")


def check_whole(folder: Path) -> list[str]:
    """Every file under ``folder`` read through by its kind (a torn file raises); their names."""
    import torch

    names = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                [f[k] for k in f.files]
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".csv":
            text = path.read_text(encoding="utf-8")
            assert text.endswith("\n"), f"{path}: ends mid-line"
            rows = list(csv.reader(io.StringIO(text)))
            assert len({len(r) for r in rows}) <= 1, f"{path}: rows of different lengths"
        elif path.suffix == ".png":
            with Image.open(path) as image:
                image.load()
        elif path.suffix == ".pt":
            torch.load(path, weights_only=True)
        elif path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                assert z.testzip() is None
        else:
            path.read_text(encoding="utf-8")
        names.append(str(path.relative_to(folder)))
    return names
