"""Atomic writes and checksums shared by every artefact the project writes."""

import errno
import hashlib
import json
import os

import numpy as np
import pytest

from explainers.files import (
    DiskFull,
    atomic_savez,
    atomic_write,
    atomic_write_all,
    atomic_write_json,
    file_sha256,
    format_bytes,
    is_disk_full,
    space_needed,
    volume_of,
)


def test_a_write_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    atomic_write(path, "new text")
    assert path.read_text() == "new text"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_failed_write_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr("explainers.files.os.replace", broken)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_several_files_are_written_all_together(tmp_path):
    (tmp_path / "a").write_bytes(b"old a")
    assert atomic_write_all({tmp_path / "a": b"new a", tmp_path / "b": "new b"}) == [tmp_path / "a", tmp_path / "b"]
    assert (tmp_path / "a").read_bytes() == b"new a" and (tmp_path / "b").read_text() == "new b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_when_one_of_several_files_cannot_be_written_none_is(tmp_path, monkeypatch):
    (tmp_path / "a").write_bytes(b"old a")
    real = os.fdopen
    opened = []

    def full_on_the_second(fd, mode):
        opened.append(fd)
        if len(opened) == 2:
            os.close(fd)
            raise OSError("disk full")
        return real(fd, mode)

    monkeypatch.setattr("explainers.files.os.fdopen", full_on_the_second)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_all({tmp_path / "a": b"new a", tmp_path / "b": b"new b"})
    assert (tmp_path / "a").read_bytes() == b"old a"
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_arrays_and_json_round_trip(tmp_path):
    atomic_savez(tmp_path / "x.npz", compressed=True, W=np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(np.load(tmp_path / "x.npz")["W"], np.arange(6.0).reshape(2, 3))
    atomic_write_json(tmp_path / "m.json", {"a": 1})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1}


def test_the_checksum_is_the_sha256_of_the_bytes(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    assert file_sha256(tmp_path / "f") == hashlib.sha256(b"abc").hexdigest()


# --------------------------------------------------------------------------
# A full disk
# --------------------------------------------------------------------------


def fails_mid_write(monkeypatch, code: int, on_file: int = 1):
    """The ``on_file``-th file opened by explainers.files takes half its data, then the disk is full (``code``)."""
    real = os.fdopen
    opened = []

    class HalfWritten:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            raise OSError(code, os.strerror(code))

    def opening(fd, mode):
        opened.append(fd)
        f = real(fd, mode)
        return HalfWritten(f) if len(opened) == on_file else f

    monkeypatch.setattr("explainers.files.os.fdopen", opening)


def test_a_write_on_a_full_disk_names_the_file_and_the_space_it_needs_and_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "maps.npz"
    path.write_bytes(b"old")
    fails_mid_write(monkeypatch, errno.ENOSPC)
    with pytest.raises(DiskFull) as info:
        atomic_write(path, b"x" * 5000)
    full = info.value
    assert isinstance(full, OSError) and full.errno == errno.ENOSPC and full.path == path
    assert full.needed == space_needed(tmp_path, 5000) >= 5000
    assert full.volume == volume_of(tmp_path) and full.free >= 0
    assert str(full) == (
        f"No space left on device writing {path}: it needs about {format_bytes(full.needed)}, "
        f"{format_bytes(full.free)} free on {full.volume}"
    )
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["maps.npz"]


def test_files_written_together_name_the_one_that_did_not_fit_and_the_space_of_all(tmp_path, monkeypatch):
    fails_mid_write(monkeypatch, errno.EDQUOT, on_file=2)
    with pytest.raises(DiskFull) as info:
        atomic_write_all({tmp_path / "a.png": b"a" * 100, tmp_path / "b.png": b"b" * 100})
    assert info.value.path == tmp_path / "b.png"
    assert info.value.needed == 2 * space_needed(tmp_path, 100)
    assert str(info.value).startswith(
        f"Disk quota exceeded writing {tmp_path / 'b.png'} (one of 2 files written together): they need about "
    )
    assert list(tmp_path.iterdir()) == []


def test_other_write_errors_are_raised_as_they_are(tmp_path, monkeypatch):
    fails_mid_write(monkeypatch, errno.EIO)
    with pytest.raises(OSError) as info:
        atomic_write(tmp_path / "a", b"data")
    assert type(info.value) is OSError and info.value.errno == errno.EIO
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_enospc_or_a_spent_quota_and_nothing_else():
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(OSError("disk full")) and not is_disk_full(ValueError("full"))


def test_a_full_disk_met_elsewhere_names_its_file_or_the_commands_folder_and_no_size(tmp_path):
    named = DiskFull.of(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "made")), tmp_path / "out")
    assert named.path == tmp_path / "made" and named.needed is None
    assert (
        str(named)
        == f"No space left on device writing {tmp_path / 'made'}: {format_bytes(named.free)} free on {named.volume}"
    )
    assert DiskFull.of(OSError(errno.ENOSPC, "No space left on device"), tmp_path / "out").path == tmp_path / "out"
    already = DiskFull(errno.ENOSPC, tmp_path / "x", 10)
    assert DiskFull.of(already, tmp_path) is already


def test_the_space_a_write_needs_is_counted_in_whole_blocks_of_its_volume(tmp_path):
    block = os.statvfs(tmp_path).f_frsize
    assert space_needed(tmp_path, 0) == 0 and space_needed(tmp_path, 1) == block
    assert space_needed(tmp_path, block + 1) == 2 * block
    assert space_needed(tmp_path, 10, start=block - 20) == 0  # an append that fits in the last block
    assert space_needed(tmp_path, 30, start=block - 20) == block


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0 bytes"),
        (999, "999 bytes"),
        (1000, "1.0 kB"),
        (4096, "4.1 kB"),
        (3_200_000, "3.2 MB"),
        (999_950, "1.0 MB"),
    ],
)
def test_sizes_are_written_for_a_person(n, text):
    assert format_bytes(n) == text
