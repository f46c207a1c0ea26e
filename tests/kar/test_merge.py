"""Merging folders that ran one grid a feature set at a time: the same as running the whole grid at once."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from explainers.model import TrainConfig
from kar.core.errors import KarError
from kar.core.merge import merge_runs, spec_of
from kar.core.runner import run_kar
from kar.core.spaces import FeatureSpace
from kar.core.spec import KarSpec, run_fingerprint
from kar.core.store import FIGURES, MANIFEST, RANKINGS, RESULTS, VERDICTS, read_manifest
from tests.kar.tiny import TINY_RANKING, synthetic

pytestmark = pytest.mark.slow  # trains networks or starts servers

WHOLE = KarSpec(
    feature_sets=("pixels", "conv"),
    methods=("random", "smoothgrad"),
    thresholds=(25, 75),
    runs=2,
    train=TrainConfig(epochs=2, batch_size=32, shift=0),
    ranking=TINY_RANKING,
)
INPUTS = {"model_sha256": "test", "data": "synthetic 8x8"}


def part(feature_set: str, **changes) -> KarSpec:
    return KarSpec(**{**WHOLE.__dict__, "feature_sets": (feature_set,), **changes})


@pytest.fixture(scope="module")
def spaces(space) -> dict[str, FeatureSpace]:
    x_train, y_train = synthetic(400, 7)
    x_test, y_test = synthetic(200, 8)
    return {"pixels": space, "conv": FeatureSpace("conv", "head", x_train, y_train, x_test, y_test, noise="std")}


@pytest.fixture(scope="module")
def models(spaces, explained):
    return {"pixels": explained, "conv": explained}


def run(spec, spaces, models, out, **kwargs):
    return run_kar(
        spec, {fs: spaces[fs] for fs in spec.feature_sets}, models, out, inputs=INPUTS, progress=False, **kwargs
    )


@pytest.fixture(scope="module")
def halves(spaces, models, tmp_path_factory):
    """conv run first, as the paper grid was, then pixels; each in its own folder."""
    conv, pixels = tmp_path_factory.mktemp("conv"), tmp_path_factory.mktemp("pixels")
    run(part("conv"), spaces, models, conv)
    run(part("pixels"), spaces, models, pixels)
    return conv, pixels


@pytest.fixture(scope="module")
def merged(halves, tmp_path_factory):
    out = tmp_path_factory.mktemp("merged") / "whole"
    return merge_runs(list(halves), out), out


def rows_without_seconds(path) -> list[list[str]]:
    with open(path) as f:
        return [row[:-1] for row in csv.reader(f)]


def test_the_merged_folder_holds_every_cell_of_the_whole_grid_in_its_order(spaces, models, merged, tmp_path):
    report, out = merged
    assert report.complete and len(report.results) == len(WHOLE.cells()) == 2 * 2 + 2 * 2 * 2 * 2
    run(WHOLE, spaces, models, tmp_path)  # the whole grid at once: the very same cells and numbers
    assert rows_without_seconds(out / RESULTS) == rows_without_seconds(tmp_path / RESULTS)


def test_the_merged_manifest_has_the_whole_grids_fingerprint_and_every_session(halves, merged):
    _, out = merged
    manifest = read_manifest(out)
    assert manifest["fingerprint"] == run_fingerprint({**WHOLE.parameters(), "inputs": INPUTS})
    assert manifest["parameters"]["feature_sets"] == ["pixels", "conv"]  # the grid's order, not the folders'
    assert [s["folder"] for s in manifest["sessions"]] == [str(h) for h in halves]
    assert [m["feature_sets"] for m in manifest["merged"]["from"]] == [["conv"], ["pixels"]]
    assert manifest["cells_done"] == manifest["expected_cells"] == 20
    assert set(np.load(out / RANKINGS).files) == {  # each run's own rankings
        f"{fs}/{m}/{r}" for fs in ("pixels", "conv") for m in ("smoothgrad", "random") for r in (1, 2)
    }
    assert set(manifest["rankings"]) == set(np.load(out / RANKINGS).files)


def test_the_report_figures_and_verdicts_cover_both_feature_sets(merged):
    _, out = merged
    assert all((out / name).is_file() for name in FIGURES.values())
    assert {r.feature_set for r in merged[0].summary} == {"pixels", "conv"}
    assert len(json.loads((out / VERDICTS).read_text())) == 3


def test_run_kar_with_the_whole_grid_resumes_the_merge_with_nothing_to_run(spaces, models, merged, tmp_path):
    _, out = merged
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in out.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    outcome = run(WHOLE, spaces, models, copy)
    assert outcome.complete and outcome.ran == 0 and outcome.skipped == 20
    assert "merged" in read_manifest(copy)  # the provenance survives the resume


def test_merging_again_replaces_an_earlier_merge_of_the_same_grid(halves, merged):
    _, out = merged
    again = merge_runs(list(halves), out)
    assert len(again.results) == 20 and len(read_manifest(out)["sessions"]) == 2


def test_folders_with_other_parameters_are_refused_naming_the_difference(spaces, models, halves, tmp_path):
    other = tmp_path / "other"
    run(part("pixels", thresholds=(50,)), spaces, models, other)
    with pytest.raises(
        KarError, match=r"other parameters .*\(thresholds \[25, 75\] -> \[50\]\); only the feature sets may differ"
    ):
        merge_runs([halves[0], other], tmp_path / "out")
    assert not (tmp_path / "out" / MANIFEST).exists()


def test_a_feature_set_in_two_folders_is_refused(halves, tmp_path):
    with pytest.raises(KarError, match="feature set 'conv' is in both"):
        merge_runs([halves[0], halves[0]], tmp_path / "out")


def test_the_target_may_not_be_a_source_or_hold_another_run(halves, merged, tmp_path):
    with pytest.raises(KarError, match="is one of the folders to merge"):
        merge_runs(list(halves), halves[1])
    manifest = read_manifest(merged[1])
    held = tmp_path / "held"
    held.mkdir()
    (held / MANIFEST).write_text(json.dumps({**manifest, "fingerprint": "another"}))
    with pytest.raises(KarError, match="holds a KAR run of another grid; pass --restart"):
        merge_runs(list(halves), held)
    (held / MANIFEST).write_text(json.dumps({k: v for k, v in manifest.items() if k != "merged"}))
    with pytest.raises(KarError, match="holds a run of this grid made by run_kar, not a merge"):
        merge_runs(list(halves), held)
    assert merge_runs(list(halves), held, restart=True).complete


def test_a_folder_that_is_not_a_run_is_refused(halves, tmp_path):
    with pytest.raises(KarError, match="not a run_kar output folder"):
        merge_runs([halves[0], tmp_path], tmp_path / "out")


def test_the_parameters_give_back_their_spec():
    assert spec_of({**WHOLE.parameters(), "inputs": INPUTS}) == WHOLE
    with pytest.raises(KarError, match="another version of run_kar"):
        spec_of({**WHOLE.parameters(), "threads_per_cell": 2})
