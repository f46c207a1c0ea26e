"""example_images: writes the example image folder for trying a data set of your own."""

import io

import pytest
from django.core.management import CommandError, call_command


def test_it_writes_the_folder_and_says_how_to_use_it(tmp_path):
    out = io.StringIO()
    call_command("example_images", str(tmp_path / "shapes"), "--per-class", "2", "--size", "16", stdout=out)
    assert len(list((tmp_path / "shapes").glob("*/*.png"))) == 6
    assert f"--data imagefolder:{tmp_path / 'shapes'}" in out.getvalue()


def test_a_folder_holding_files_is_refused(tmp_path):
    (tmp_path / "x.txt").write_text("mine")
    with pytest.raises(CommandError, match="not an empty folder"):
        call_command("example_images", str(tmp_path))
