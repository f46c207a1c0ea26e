"""kar.core.store: results.csv takes whole lines or nothing, even on a full disk."""

from __future__ import annotations

import errno
import os

import pytest

from explainers.files import DiskFull, space_needed
from kar.core.cells import Result
from kar.core.store import RESULTS, ResultsLog

ROWS = [
    Result("pixels", "kar", "baseline", 0, 1, 0, 0.91, 0.0, 2.0),
    Result("pixels", "kar", "random", 50, 1, 0, 0.9, 1.0, 2.5),
]


def full_after_half(monkeypatch, path):
    """Writes to ``path`` take half their bytes, then the disk is full."""
    real = os.write

    def write(fd, data):
        if os.path.realpath(f"/proc/self/fd/{fd}") != str(path):
            return real(fd, data)
        real(fd, bytes(data[: max(1, len(data) // 2)]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("kar.core.store.os.write", write)


def test_appended_rows_are_read_back_under_one_header(tmp_path):
    log = ResultsLog(tmp_path / RESULTS)
    for row in ROWS:
        log.append(row)
    assert log.read() == ROWS
    assert log.path.read_text().count("feature_set") == 1


def test_an_append_on_a_full_disk_leaves_the_file_exactly_as_it_was(tmp_path, monkeypatch):
    log = ResultsLog(tmp_path / RESULTS)
    log.append(ROWS[0])
    before = log.path.read_bytes()
    full_after_half(monkeypatch, log.path)
    with pytest.raises(DiskFull) as info:
        log.append(ROWS[1])
    assert info.value.path == log.path
    line = ",".join(map(str, ROWS[1].csv_row())) + "\n"
    assert info.value.needed == space_needed(tmp_path, len(line.encode()), len(before))  # the blocks it adds
    assert log.path.read_bytes() == before
    monkeypatch.undo()
    assert log.read() == ROWS[:1]
    log.append(ROWS[1])  # once there is room, the run goes on
    assert log.read() == ROWS


def test_a_first_append_on_a_full_disk_leaves_no_file(tmp_path, monkeypatch):
    log = ResultsLog(tmp_path / RESULTS)
    full_after_half(monkeypatch, log.path)
    with pytest.raises(DiskFull, match=rf"^No space left on device writing {log.path}: it needs about "):
        log.append(ROWS[0])
    assert list(tmp_path.iterdir()) == []


def test_other_write_errors_also_leave_the_file_as_it_was_and_are_raised_as_they_are(tmp_path, monkeypatch):
    log = ResultsLog(tmp_path / RESULTS)
    log.append(ROWS[0])
    before = log.path.read_bytes()

    def broken(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr("kar.core.store.os.fsync", broken)
    with pytest.raises(OSError) as info:
        log.append(ROWS[1])
    assert type(info.value) is OSError and info.value.errno == errno.EIO
    assert log.path.read_bytes() == before


def test_a_rewrite_on_a_full_disk_keeps_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    log = ResultsLog(tmp_path / RESULTS)
    for row in ROWS:
        log.append(row)
    before = log.path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("explainers.files.os.fsync", full)
    with pytest.raises(DiskFull) as info:
        log.rewrite(ROWS[::-1])
    assert info.value.path == log.path
    assert log.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [RESULTS]
