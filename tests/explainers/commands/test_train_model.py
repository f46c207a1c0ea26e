"""manage.py train_model"""

import json

import pytest
from django.core.management import CommandError, call_command

from explainers.files import format_bytes, space_needed
from explainers.model import file_sha256, load_checkpoint
from tests.disk import check_whole, leftovers

pytestmark = pytest.mark.slow  # trains networks or starts servers


def test_it_saves_the_checkpoint_and_a_manifest_beside_it(tiny_mnist_dir, tmp_path, capsys):
    out = tmp_path / "m.pt"
    call_command(
        "train_model", out=str(out), epochs=1, mnist_dir=str(tiny_mnist_dir), seed=3, device="cpu", verbosity=0
    )
    manifest = json.loads((tmp_path / "m.pt.json").read_text())
    assert manifest["sha256"] == file_sha256(out)
    assert 0.0 <= manifest["test_accuracy"] <= 1.0
    assert manifest["seed"] == 3 and manifest["epochs"] == 1
    assert "IDX" in manifest["data"]["source"] and manifest["data"]["train"] == 400
    assert {"torch", "numpy", "python"} <= set(manifest["versions"])
    assert manifest["seconds"] > 0
    load_checkpoint(out)  # a loadable network
    assert "test accuracy" in capsys.readouterr().out


def test_a_bad_mnist_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(CommandError, match="train-images-idx3-ubyte: missing"):
        call_command("train_model", out=str(tmp_path / "m.pt"), mnist_dir=str(tmp_path), verbosity=0)
    assert not (tmp_path / "m.pt").exists()


def test_zero_epochs_are_refused(tmp_path):
    with pytest.raises(CommandError, match="--epochs must be a positive number"):
        call_command("train_model", out=str(tmp_path / "m.pt"), epochs=0, verbosity=0)


def test_an_output_path_that_is_a_folder_is_refused(tmp_path):
    with pytest.raises(CommandError, match="is a directory"):
        call_command("train_model", out=str(tmp_path), epochs=1, verbosity=0)


def test_the_manifest_records_the_precision_and_memory_format(tiny_mnist_dir, tmp_path):
    out = tmp_path / "m.pt"
    call_command("train_model", out=str(out), epochs=1, mnist_dir=str(tiny_mnist_dir), device="cpu", verbosity=0)
    manifest = json.loads((tmp_path / "m.pt.json").read_text())
    assert manifest["compute"] == {"precision": "fp32", "memory_format": "channels_last"}


def test_bf16_is_refused_in_one_line_where_the_hardware_lacks_it(tiny_mnist_dir, tmp_path, monkeypatch):
    from explainers import compute

    monkeypatch.setattr(compute, "bf16_supported", lambda device="cpu": False)
    with pytest.raises(CommandError, match=r"^--precision bf16: this CPU has no native bfloat16[^\n]*$"):
        call_command(
            "train_model",
            out=str(tmp_path / "m.pt"),
            epochs=1,
            mnist_dir=str(tiny_mnist_dir),
            device="cpu",
            precision="bf16",
            verbosity=0,
        )
    assert not (tmp_path / "m.pt").exists()


def test_train_size_trains_on_a_stratified_subset_and_the_manifest_records_it(tiny_mnist_dir, tmp_path):
    out = tmp_path / "m.pt"
    call_command(
        "train_model", out=str(out), epochs=1, mnist_dir=str(tiny_mnist_dir), train_size=50, device="cpu", verbosity=0
    )
    data = json.loads((tmp_path / "m.pt.json").read_text())["data"]
    assert data["train"] == 50 and data["test"] == 100
    assert data["train_subset"] == {"size": 50, "of": 400, "seed": 0, "stratified": True}


def test_without_train_size_it_trains_on_every_training_image(tiny_mnist_dir, tmp_path):
    out = tmp_path / "m.pt"
    call_command("train_model", out=str(out), epochs=1, mnist_dir=str(tiny_mnist_dir), device="cpu", verbosity=0)
    data = json.loads((tmp_path / "m.pt.json").read_text())["data"]
    assert data["train"] == 400 and "train_subset" not in data


def test_a_train_size_larger_than_the_data_is_refused_before_training(tiny_mnist_dir, tmp_path):
    with pytest.raises(CommandError, match=r"^--train-size: a subset of 401 training images: the data has only 400$"):
        call_command(
            "train_model", out=str(tmp_path / "m.pt"), mnist_dir=str(tiny_mnist_dir), train_size=401, verbosity=0
        )
    assert not (tmp_path / "m.pt").exists()


def test_on_a_full_disk_it_stops_in_one_line_naming_the_checkpoint_and_leaves_neither_file(
    tiny_mnist_dir, small_volume
):
    volume = small_volume("256k")  # the network's checkpoint is about 1 MB
    out = volume.path / "model" / "m.pt"
    options = dict(out=str(out), epochs=1, mnist_dir=str(tiny_mnist_dir), device="cpu", verbosity=0)
    with pytest.raises(CommandError) as info:
        call_command("train_model", **options)
    assert list(out.parent.iterdir()) == []  # no checkpoint, no manifest, no temporary file
    volume.resize("16m")  # space freed: the same command trains again and saves both
    call_command("train_model", **options)
    assert check_whole(out.parent) == ["m.pt", "m.pt.json"] and leftovers(out.parent) == []
    assert json.loads((out.parent / "m.pt.json").read_text())["sha256"] == file_sha256(out)
    needed = sum(space_needed(out.parent, p.stat().st_size) for p in out.parent.iterdir())
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        f"No space left on device writing {out} (one of 2 files written together): "
        f"they need about {format_bytes(needed)}, "
    )
    assert message.endswith(f" free on {volume.path}; free some space and run the same command again")
