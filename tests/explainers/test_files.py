"""Atomic writes and checksums shared by every artefact the project writes."""

import hashlib
import json
import os

import numpy as np
import pytest

from explainers.files import atomic_savez, atomic_write, atomic_write_all, atomic_write_json, file_sha256


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
