"""manage.py merge_kar: two folders of one grid in, the whole grid's folder, tables and verdicts out."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from explainers.model import TrainConfig
from kar.core.runner import run_kar
from kar.core.spaces import FeatureSpace
from kar.core.spec import KarSpec
from kar.core.store import MANIFEST, RESULTS, read_manifest
from tests.kar.tiny import TINY_RANKING, synthetic

pytestmark = pytest.mark.slow  # trains networks or starts servers

INPUTS = {"model_sha256": "test", "data": "synthetic 8x8"}


def spec(feature_set: str, thresholds=(50,)) -> KarSpec:
    return KarSpec(
        feature_sets=(feature_set,),
        methods=("random",),
        thresholds=thresholds,
        runs=2,
        train=TrainConfig(epochs=1, batch_size=32, shift=0),
        ranking=TINY_RANKING,
    )


@pytest.fixture(scope="module")
def folders(space, explained, tmp_path_factory):
    x_train, y_train = synthetic(300, 7)
    x_test, y_test = synthetic(100, 8)
    spaces = {"pixels": space, "conv": FeatureSpace("conv", "head", x_train, y_train, x_test, y_test, noise="std")}
    out = {}
    for fs in ("pixels", "conv"):
        out[fs] = tmp_path_factory.mktemp(fs)
        run_kar(spec(fs), {fs: spaces[fs]}, {fs: explained}, out[fs], inputs=INPUTS, progress=False)
    return out


def merge(*args) -> str:
    stdout = StringIO()
    call_command("merge_kar", *[str(a) for a in args], stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


def test_it_merges_two_folders_and_prints_the_tables_and_the_claims(folders, tmp_path):
    text = merge(folders["pixels"], folders["conv"], "--out", tmp_path / "whole")
    assert "Merged 2 folders" in text and "8 of 8 cells (complete), feature sets pixels, conv" in text
    assert "The paper's claims" in text and "Random" in text
    assert read_manifest(tmp_path / "whole")["parameters"]["feature_sets"] == ["pixels", "conv"]


def test_a_folder_of_another_grid_is_one_line_and_writes_nothing(folders, space, explained, tmp_path):
    other = tmp_path / "other"
    run_kar(
        spec("conv", thresholds=(25,)),
        {"conv": FeatureSpace("conv", "head", space.x_train, space.y_train, space.x_test, space.y_test)},
        {"conv": explained},
        other,
        inputs=INPUTS,
        progress=False,
    )
    with pytest.raises(CommandError) as error:
        merge(folders["pixels"], other, "--out", tmp_path / "whole")
    assert "only the feature sets may differ" in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "whole" / MANIFEST).exists() and not (tmp_path / "whole" / RESULTS).exists()


def test_one_folder_is_not_enough(folders, tmp_path):
    with pytest.raises(CommandError, match="at least two run folders"):
        merge(folders["pixels"], "--out", tmp_path / "whole")
