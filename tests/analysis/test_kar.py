"""analysis.kar: which features go, how they are blanked, one retraining, and a resumable grid.

Tiny data: 8x8 "images" whose label is carried by ten known pixels (one per
class, set to 1 for its class and 0 otherwise) among 54 pixels of noise, and
the paper's fully connected head as the network. No Django needed.
"""
from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
import torch

from analysis import kar
from explainers.methods import normlime
from explainers.model import TrainConfig, probabilities, train

INFORMATIVE = np.array([9, 14, 19, 22, 27, 36, 41, 44, 49, 54])  # pixel of class c: INFORMATIVE[c]
TINY_TRAINING = TrainConfig(epochs=6, batch_size=32, shift=0)


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    rng.shuffle(y)
    x = rng.random((n, 64)).astype(np.float32)
    x[:, INFORMATIVE] = 0.0
    x[np.arange(n), INFORMATIVE[y]] = 1.0
    return x, y


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Train as KAR cells do (one thread): faster for tiny nets, and the thread count is restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def space() -> kar.FeatureSpace:
    x_train, y_train = synthetic(600, 0)
    x_test, y_test = synthetic(300, 1)
    return kar.FeatureSpace("pixels", "head", x_train, y_train, x_test, y_test)


@pytest.fixture(scope="module")
def explained(space) -> torch.nn.Module:
    """The model the methods explain: the head trained on all features."""
    return probabilities(train(space.build_model(0), space.x_train, space.y_train, config=TINY_TRAINING, seed=0))


def keeps_informative() -> np.ndarray:
    scores = np.random.default_rng(5).random(64) * 0.1
    scores[INFORMATIVE] = 1.0
    return scores


TINY_RANKING = kar.RankingConfig(
    lime_per_class=2, lime_samples=300, lime_features=10, noise_per_class=2, noise_samples=20,
    shap_per_class=1, shap_samples=256, batch_size=500,
)


@pytest.mark.parametrize("module", ["analysis.kar", "analysis.kar_report"])
def test_the_kar_library_imports_without_django(module):
    code = f"import sys, {module}; sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{module} pulled in Django: {result.stderr}"


# --------------------------------------------------------------------------
# Ranking -> removal, by hand
# --------------------------------------------------------------------------


def test_kar_removes_the_least_important_first_and_roar_the_most_important_first():
    importance = [0.3, 0.1, 0.5, 0.2]
    assert kar.removal_order(importance, "kar").tolist() == [1, 3, 0, 2]
    assert kar.removal_order(importance, "roar").tolist() == [2, 0, 3, 1]


def test_the_keep_mask_drops_the_threshold_share_of_features_in_removal_order():
    importance = [0.3, 0.1, 0.5, 0.2]
    assert kar.keep_mask(importance, 50, "kar").tolist() == [True, False, True, False]
    assert kar.keep_mask(importance, 25, "kar").tolist() == [True, False, True, True]
    assert kar.keep_mask(importance, 75, "roar").tolist() == [False, True, False, False]


def test_the_number_removed_is_the_threshold_share_rounded_half_up():
    assert kar.num_removed(784, 10) == 78
    assert kar.num_removed(784, 50) == 392
    assert kar.num_removed(1600, 90) == 1440
    assert kar.num_removed(10, 25) == 3  # 2.5 rounds up
    with pytest.raises(ValueError):
        kar.num_removed(10, 100)


def test_ties_are_broken_by_a_seeded_permutation_not_by_position():
    tied = np.zeros(50)
    assert kar.removal_order(tied).tolist() == list(range(50))  # no seed: by index
    a = kar.removal_order(tied, tiebreak_seed=3)
    assert a.tolist() == np.argsort(np.random.default_rng(3).permutation(50)).tolist()
    assert a.tolist() == kar.removal_order(tied, tiebreak_seed=3).tolist()
    assert a.tolist() != kar.removal_order(tied, tiebreak_seed=4).tolist()
    # ties never reorder features whose scores differ
    scores = np.array([2.0, 0.0, 1.0, 0.0, 0.0])
    assert kar.removal_order(scores, tiebreak_seed=9)[3:].tolist() == [2, 0]


def test_a_ranking_with_nan_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        kar.removal_order([0.1, np.nan])


def test_removed_features_take_their_training_mean_and_kept_ones_stay():
    x = np.array([[1.0, 2.0, 3.0], [3.0, 6.0, 5.0]], dtype=np.float32)
    means = x.mean(0)  # [2, 4, 4]
    keep = np.array([True, False, True])
    expected = np.array([[1.0, 4.0, 3.0], [3.0, 4.0, 5.0]], dtype=np.float32)
    np.testing.assert_array_equal(kar.mean_replace(x, keep, means), expected)
    tensor = torch.as_tensor(x)
    np.testing.assert_array_equal(kar.FeatureMask(keep, means)(tensor).numpy(), expected)
    assert tensor[0, 1] == 2.0  # the caller's batch is untouched


def test_a_feature_space_blanks_with_its_training_means_not_the_test_ones(space):
    np.testing.assert_allclose(space.means.numpy(), space.x_train.numpy().astype(np.float64).mean(0), rtol=1e-6)
    assert space.means[INFORMATIVE].max() < 0.2  # ~1/10 of rows have each informative pixel on
    assert space.scale == pytest.approx(1.0, abs=1e-3)


# --------------------------------------------------------------------------
# One retraining
# --------------------------------------------------------------------------


def test_keeping_the_label_pixels_costs_no_error_and_dropping_them_costs_a_lot(space):
    keep_ranking = keeps_informative()
    base, _ = kar.run_cell(space, None, kar.Cell("pixels", kar.BASELINE, 0, 1, 0), mode="kar", config=TINY_TRAINING)
    kept, _ = kar.run_cell(space, keep_ranking, kar.Cell("pixels", "x", 50, 1, 0), mode="kar", config=TINY_TRAINING)
    dropped, _ = kar.run_cell(space, -keep_ranking, kar.Cell("pixels", "x", 50, 1, 0), mode="kar", config=TINY_TRAINING)
    assert base > 0.95
    assert abs(base - kept) * 100 <= 2.0  # about zero error gain at 50 % removed
    assert (base - dropped) * 100 >= 50.0  # with the label pixels gone only chance (10 %) is left


def test_roar_with_the_same_ranking_removes_the_label_pixels_first(space):
    base, _ = kar.run_cell(space, None, kar.Cell("pixels", kar.BASELINE, 0, 1, 0), mode="roar", config=TINY_TRAINING)
    roar, _ = kar.run_cell(space, keeps_informative(), kar.Cell("pixels", "x", 20, 1, 0), mode="roar", config=TINY_TRAINING)
    assert (base - roar) * 100 >= 50.0


def test_a_cell_repeats_exactly_with_the_same_seed(space):
    cell = kar.Cell("pixels", "random", 30, 1, 0)
    importance = np.random.default_rng(0).random(64)
    first = kar.run_cell(space, importance, cell, mode="kar", config=TINY_TRAINING)[0]
    again = kar.run_cell(space, importance, cell, mode="kar", config=TINY_TRAINING)[0]
    assert first == again


def test_blanking_unaugmented_data_once_trains_the_same_network_as_blanking_every_batch(space):
    keep = kar.keep_mask(np.random.default_rng(1).random(64), 40)
    mask = kar.FeatureMask(keep, space.means)
    per_batch = train(space.build_model(0), space.x_train, space.y_train, config=TINY_TRAINING, seed=0, transform=mask)
    once = train(space.build_model(0), mask(space.x_train), space.y_train, config=TINY_TRAINING, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(per_batch.parameters(), once.parameters()))
    expected = (per_batch(mask(space.x_test)).argmax(1).numpy() == space.y_test.numpy()).mean()
    assert kar.train_cell(space, keep, 0, TINY_TRAINING) == pytest.approx(expected)


def test_the_cnn_retrains_on_masked_pixels_and_conv_features_are_its_second_block():
    from explainers.model import new_model

    rng = np.random.default_rng(0)

    class Data:
        x_train = rng.random((40, 784)).astype(np.float32)
        y_train = np.arange(40) % 10
        x_test = rng.random((20, 784)).astype(np.float32)
        y_test = np.arange(20) % 10

    pixels = kar.pixel_space(Data)
    assert pixels.architecture == "cnn" and pixels.dim == 784
    acc = kar.train_cell(pixels, kar.keep_mask(rng.random(784), 50), 0, TrainConfig(epochs=1, batch_size=20))
    assert 0.0 <= acc <= 1.0
    conv = kar.conv_space(Data, new_model(0).eval())
    assert conv.dim == 1600 and conv.architecture == "head"
    assert len(conv.x_test) == 20 and (conv.x_train >= 0).all()  # ReLU'd, max-pooled activations


# --------------------------------------------------------------------------
# Rankings
# --------------------------------------------------------------------------


def test_every_method_ranks_every_feature_and_the_informed_ones_find_the_label_pixels(space, explained):
    rankings, sources = kar.compute_rankings({"pixels": space}, {"pixels": explained}, kar.METHODS,
                                             config=TINY_RANKING, seed=0)
    assert set(rankings) == {f"pixels/{m}" for m in kar.METHODS}
    for key, scores in rankings.items():
        assert scores.shape == (64,) and np.isfinite(scores).all() and (scores >= 0).all(), key
        assert sources[key]["seconds"] >= 0
    for method in ("normlime", "lime", "smoothgrad", "vargrad", "shap"):
        top = np.argsort(-rankings[f"pixels/{method}"])[:10]
        assert len(set(top) & set(INFORMATIVE)) >= 8, method
    # NormLIME and LIME share one set of local explanations
    assert sources["pixels/normlime"]["explanations"] == sources["pixels/lime"]["explanations"] == 20


def test_given_local_weights_are_used_for_normlime_and_lime_and_cached_rankings_are_not_recomputed(space, explained):
    W = np.zeros((3, 64))
    W[:, 7] = [1.0, -2.0, 0.5]
    W[0, 3] = 0.1
    given = kar.LocalWeights(W, {"name": "set-a"})
    cached = {"pixels/random": np.arange(64.0)}
    rankings, sources = kar.compute_rankings(
        {"pixels": space}, {"pixels": explained}, ["normlime", "lime", "random"], config=TINY_RANKING, seed=0,
        local_weights={"pixels": given}, cache=cached,
    )
    np.testing.assert_allclose(rankings["pixels/normlime"], np.abs(normlime(W)))
    assert np.argmax(rankings["pixels/normlime"]) == 7 and np.argmax(rankings["pixels/lime"]) == 7
    assert sources["pixels/normlime"]["local_weights"] == {"name": "set-a"}
    np.testing.assert_array_equal(rankings["pixels/random"], np.arange(64.0))
    assert "pixels/random" not in sources


# --------------------------------------------------------------------------
# The grid: results.csv, resumption, jobs
# --------------------------------------------------------------------------

SMALL = kar.KarSpec(
    feature_sets=("pixels",), methods=("random", "smoothgrad", "normlime"), thresholds=(25, 75), runs=2,
    train=TrainConfig(epochs=3, batch_size=32, shift=0), ranking=TINY_RANKING,
)
INPUTS = {"model_sha256": "test", "data": "synthetic 8x8"}


def run_small(space, explained, out, **kwargs):
    return kar.run_kar(SMALL, {"pixels": space}, {"pixels": explained}, out, inputs=INPUTS, progress=False, **kwargs)


def rows_without_seconds(path) -> list[list[str]]:
    with open(path) as f:
        return [row[:-1] for row in csv.reader(f)]


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def uninterrupted(space, explained, tmp_path_factory):
    out = tmp_path_factory.mktemp("kar-full")
    outcome = run_small(space, explained, out)
    return out, outcome


def test_a_run_writes_one_row_per_cell_with_gains_against_its_own_baseline(uninterrupted):
    out, outcome = uninterrupted
    assert outcome.complete and outcome.ran == outcome.expected == 2 + 3 * 2 * 2
    rows = list(csv.DictReader(open(out / kar.RESULTS)))
    assert list(rows[0]) == list(kar.RESULT_FIELDS)
    assert len(rows) == 14
    baselines = {r["run"]: float(r["accuracy"]) for r in rows if r["method"] == kar.BASELINE}
    assert set(baselines) == {"1", "2"}
    for r in rows:
        expected = (baselines[r["run"]] - float(r["accuracy"])) * 100
        assert float(r["error_gain"]) == pytest.approx(expected, abs=1e-3)
        assert int(r["seed"]) == int(r["run"]) - 1  # run r trains with seed + r - 1
    manifest = kar.read_manifest(out)
    assert manifest["fingerprint"] == kar.fingerprint({**SMALL.parameters(), "inputs": INPUTS})
    assert manifest["cells_done"] == 14 and manifest["sessions"][-1]["status"] == "complete"
    assert set(np.load(out / kar.RANKINGS).files) == {"pixels/random", "pixels/smoothgrad", "pixels/normlime"}


def test_an_interrupted_run_resumes_without_redoing_cells_and_ends_with_the_same_results(space, explained, uninterrupted, tmp_path):
    seen = []

    def stop_after_five(result):
        seen.append(result)
        if len(seen) == 5:
            raise Stop

    with pytest.raises(Stop):
        run_small(space, explained, tmp_path, on_cell=stop_after_five)
    assert len(rows_without_seconds(tmp_path / kar.RESULTS)) == 1 + 5  # saved at once, header + 5
    assert kar.read_manifest(tmp_path)["sessions"][-1]["status"] == "interrupted"
    rankings_before = (tmp_path / kar.RANKINGS).read_bytes()

    resumed = run_small(space, explained, tmp_path)
    assert resumed.skipped == 5 and resumed.ran == 14 - 5
    assert (tmp_path / kar.RANKINGS).read_bytes() == rankings_before  # reused, not recomputed
    full_out, _ = uninterrupted
    assert rows_without_seconds(tmp_path / kar.RESULTS) == rows_without_seconds(full_out / kar.RESULTS)
    assert [s["status"] for s in kar.read_manifest(tmp_path)["sessions"]] == ["interrupted", "complete"]


def test_parallel_jobs_give_the_same_results_as_one_process(space, explained, uninterrupted, tmp_path):
    outcome = run_small(space, explained, tmp_path, jobs=2)
    assert outcome.complete
    full_out, _ = uninterrupted
    assert rows_without_seconds(tmp_path / kar.RESULTS) == rows_without_seconds(full_out / kar.RESULTS)


def test_a_folder_holding_a_run_with_other_parameters_is_refused_unless_restarted(space, explained, uninterrupted, tmp_path):
    run_small(space, explained, tmp_path)
    other = kar.KarSpec(**{**SMALL.__dict__, "train": TrainConfig(epochs=2, batch_size=32, shift=0)})
    with pytest.raises(kar.KarError, match=r"other parameters \(train\.epochs 3 -> 2\).*--restart"):
        kar.run_kar(other, {"pixels": space}, {"pixels": explained}, tmp_path, inputs=INPUTS, progress=False)
    again = kar.run_kar(other, {"pixels": space}, {"pixels": explained}, tmp_path, inputs=INPUTS, progress=False, restart=True)
    assert again.ran == 14 and again.skipped == 0


def test_results_without_a_manifest_are_not_silently_overwritten(tmp_path):
    (tmp_path / kar.RESULTS).write_text(",".join(kar.RESULT_FIELDS) + "\n")
    with pytest.raises(kar.KarError, match="no readable manifest.json"):
        kar.prepare_out_dir(tmp_path, {"a": 1})


def test_a_torn_last_line_is_dropped_and_cut_off_the_file(tmp_path):
    log = kar.ResultsLog(tmp_path / kar.RESULTS)
    row = kar.Result("pixels", "kar", "random", 10, 1, 0, 0.9, 1.5, 2.0)
    log.append(row)
    with open(log.path, "a") as f:
        f.write("pixels,kar,lime,50,1,0,0.9")  # a crash in the middle of a write
    assert log.read() == [row]
    assert log.path.read_text().endswith("2.00\n")


def test_bad_specs_are_refused_in_one_line():
    for kwargs, message in (
        ({"methods": ("normlime", "gradcam")}, "unknown method 'gradcam'"),
        ({"thresholds": (0,)}, "outside 1-99"),
        ({"thresholds": (100,)}, "outside 1-99"),
        ({"mode": "keep"}, "unknown mode"),
        ({"runs": 0}, "at least 1"),
    ):
        with pytest.raises(kar.KarError, match=message) as info:
            kar.KarSpec(**kwargs)
        assert "\n" not in str(info.value)


def test_cells_list_baselines_first_then_run_by_run():
    cells = kar.KarSpec(feature_sets=("pixels", "conv"), methods=("lime",), thresholds=(10, 90), runs=2, seed=7).cells()
    assert [(c.feature_set, c.method, c.run, c.seed) for c in cells[:4]] == [
        ("pixels", "baseline", 1, 7), ("conv", "baseline", 1, 7), ("pixels", "baseline", 2, 8), ("conv", "baseline", 2, 8),
    ]
    assert [(c.feature_set, c.threshold, c.run) for c in cells[4:]] == [
        ("pixels", 10, 1), ("pixels", 90, 1), ("conv", 10, 1), ("conv", 90, 1),
        ("pixels", 10, 2), ("pixels", 90, 2), ("conv", 10, 2), ("conv", 90, 2),
    ]
