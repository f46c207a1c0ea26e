"""explainers.cli: the --train-size option shared by train_model and run_kar, and the commands' full-disk line."""

import argparse
import errno

import numpy as np
import pytest
from django.core.management import CommandError

from explainers import cli
from explainers.data import ImageData
from explainers.files import DiskFull


def ten_a_class(per_class=10) -> ImageData:
    y = np.repeat(np.arange(3), per_class)
    x = np.arange(len(y), dtype=np.float32)[:, None]
    return ImageData(x, y, x[:3], y[:3], source="tiny", classes=("a", "b", "c"), shape=(1, 1, 1))


def test_without_the_option_the_data_is_all_of_it_or_the_default_where_it_has_more():
    data = ten_a_class()
    assert cli.train_subset(data, None) is data
    assert cli.train_subset(data, None, default=30) is data and cli.train_subset(data, None, default=4000) is data
    subset = cli.train_subset(data, None, default=9)
    assert np.bincount(subset.y_train).tolist() == [3, 3, 3] and subset.subset["of"] == 30


def test_the_option_asks_for_a_stratified_subset_and_all_of_them_is_the_data_itself():
    data = ten_a_class()
    assert np.bincount(cli.train_subset(data, 6, default=9).y_train).tolist() == [2, 2, 2]
    assert cli.train_subset(data, 30, default=9) is data


@pytest.mark.parametrize(
    "size, message",
    [
        (31, "--train-size: a subset of 31 training images: the data has only 30"),
        (0, "--train-size must be a positive number (got 0)"),
        (2, "--train-size: a subset of 2 training images: fewer than the 3 classes (a stratified subset has each)"),
    ],
)
def test_a_size_the_data_cannot_give_is_one_line(size, message):
    with pytest.raises(CommandError) as error:
        cli.train_subset(ten_a_class(), size)
    assert str(error.value) == message


def test_the_help_says_what_the_default_is():
    parser = argparse.ArgumentParser()
    cli.add_train_size_option(parser, default=4000)
    [action] = [a for a in parser._actions if a.dest == "train_size"]
    assert action.default is None and "(default 4000, or all of them where the data has fewer)" in action.help
    parser = argparse.ArgumentParser()
    cli.add_train_size_option(parser)
    assert parser.parse_args(["--train-size", "12"]).train_size == 12
    assert "(default all of them)" in [a for a in parser._actions if a.dest == "train_size"][0].help


def test_fetch_mnist_writes_to_mnist_in_the_data_folder(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    assert cli.default_mnist_dir() == tmp_path / "mnist"


def test_a_full_disk_inside_a_command_is_one_line_that_says_what_to_do(tmp_path):
    with pytest.raises(CommandError) as info:
        with cli.stops_on_a_full_disk(tmp_path / "out", resumes=True):
            raise DiskFull(errno.ENOSPC, tmp_path / "out" / "maps.npz", 3_200_000)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        f"No space left on device writing {tmp_path / 'out' / 'maps.npz'}: it needs about 3.2 MB, "
    )
    assert message.endswith("; free some space and run the same command again (it resumes)")


def test_a_command_that_does_not_resume_does_not_say_so_and_an_unnamed_write_names_its_folder(tmp_path):
    with pytest.raises(CommandError) as info:
        with cli.stops_on_a_full_disk(tmp_path / "out.csv", resumes=False):
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
    assert str(info.value).startswith(f"Disk quota exceeded writing {tmp_path / 'out.csv'}: ")
    assert str(info.value).endswith("; free some space and run the same command again")


def test_other_errors_pass_through_a_commands_full_disk_guard(tmp_path):
    with pytest.raises(PermissionError):
        with cli.stops_on_a_full_disk(tmp_path, resumes=True):
            raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x"))
