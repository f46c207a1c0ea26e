"""manage.py run_kar: arguments, the files it writes, resuming, and ExplanationSet rankings.

Runs use the suite's tiny MNIST files (400 training, 100 test digits) and its
two-epoch network, one epoch per cell and a handful of cells.
"""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from explainers.methods import registry
from explainers.model import file_sha256
from explainers.models import ExplanationSet
from kar.core.spec import DEFAULT_THRESHOLDS, data_fingerprint
from kar.management.commands.run_kar import spec_from_options
from tests.disk import check_whole, leftovers

pytestmark = pytest.mark.django_db

FAST = [
    "--epochs",
    "1",
    "--per-class",
    "1",
    "--lime-samples",
    "100",
    "--noise-samples",
    "10",
    "--jobs",
    "1",
    "--device",
    "cpu",
]


def run(*args, **kwargs) -> str:
    out = StringIO()
    call_command("run_kar", *[str(a) for a in args], stdout=out, stderr=StringIO(), verbosity=0, **kwargs)
    return out.getvalue()


def make_set(tmp_path: Path, name: str, model_sha: str, data: dict | None = None) -> ExplanationSet:
    folder = tmp_path / name
    folder.mkdir()
    return ExplanationSet.objects.create(
        name=name,
        directory=str(folder),
        model_sha256=model_sha,
        data_source="tiny",
        overview_png=b"",
        manifest={"model": {"sha256": model_sha}, **({"data": data} if data else {})},
    )


def tiny_data(tiny_mnist_dir) -> dict:
    from explainers.data import load_mnist

    return load_mnist(tiny_mnist_dir).describe()


# --------------------------------------------------------------------------
# Bad arguments: one line each, before any work
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--methods", "normlime,gradcam"], "--methods: unknown name 'gradcam'"),
        (["--feature-sets", "pixels,fc"], "--feature-sets: unknown name 'fc'"),
        (["--thresholds", "10,0"], "--thresholds: 0 is outside 1-99"),
        (["--thresholds", "100"], "--thresholds: 100 is outside 1-99"),
        (["--thresholds", "ten"], "--thresholds: 'ten' is not a whole number"),
        (["--runs", "0"], "--runs must be a positive number"),
        (["--epochs", "-1"], "--epochs must be a positive number"),
        (["--jobs", "0"], "--jobs must be a positive number"),
    ],
)
def test_bad_grid_arguments_are_refused_in_one_line(args, message, tmp_path):
    with pytest.raises(CommandError) as info:
        run(*args, "--out", tmp_path / "out")
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_a_missing_model_checkpoint_is_refused(tmp_path):
    with pytest.raises(CommandError, match="no such model checkpoint") as info:
        run("--model", tmp_path / "nope.pt", "--out", tmp_path / "out")
    assert "\n" not in str(info.value)


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CommandError, match="not a MnistCNN checkpoint"):
        run("--model", bad, "--out", tmp_path / "out")


def test_an_unknown_explanation_set_is_refused(tiny_model_path, tmp_path):
    make_set(tmp_path, "known-set", file_sha256(tiny_model_path))
    with pytest.raises(
        CommandError, match=r"--explanations missing-set: no ExplanationSet of that name \(known: known-set"
    ):
        run("--model", tiny_model_path, "--explanations", "missing-set", "--out", tmp_path / "out")


def test_an_explanation_set_of_another_model_is_refused(tiny_model_path, tmp_path):
    make_set(tmp_path, "other-model", "f" * 64)
    with pytest.raises(CommandError, match="made with model ffffffffffff, not --model's"):
        run("--model", tiny_model_path, "--explanations", "other-model", "--out", tmp_path / "out")


def test_an_explanation_set_made_from_other_data_is_refused_in_one_line(tiny_mnist_dir, tiny_model_path, tmp_path):
    make_set(
        tmp_path, "embedded-set", file_sha256(tiny_model_path), {"source": "embedded", "train": 4000, "test": 1000}
    )
    with pytest.raises(CommandError, match=r"--explanations embedded-set: made from other data") as info:
        run(
            "--model",
            tiny_model_path,
            "--mnist-dir",
            tiny_mnist_dir,
            "--explanations",
            "embedded-set",
            "--out",
            tmp_path / "out",
        )
    assert "\n" not in str(info.value)


def test_a_model_trained_on_other_data_is_refused_in_one_line(tiny_mnist_dir, tiny_model_path, tmp_path):
    model = tmp_path / "model.pt"
    model.write_bytes(tiny_model_path.read_bytes())
    Path(f"{model}.json").write_text(
        json.dumps({"data": {"source": "embedded", "train": 4000, "test": 1000, "files": {}}})
    )
    with pytest.raises(CommandError, match=r"--model model.pt was trained on other data \(embedded"):
        run("--model", model, "--mnist-dir", tiny_mnist_dir, "--explanations", "none", "--out", tmp_path / "out")


def test_train_size_trains_the_cells_on_a_subset_of_the_models_data_and_the_manifest_records_it(
    tiny_mnist_dir, tiny_model_path, tmp_path
):
    model = tmp_path / "model.pt"
    model.write_bytes(tiny_model_path.read_bytes())
    Path(f"{model}.json").write_text(json.dumps({"data": tiny_data(tiny_mnist_dir)}))  # trained on all 400
    common = ["--model", model, "--mnist-dir", tiny_mnist_dir, "--explanations", "none", "--feature-sets", "pixels"]
    run(*common, "--methods", "random", "--thresholds", "90", *FAST, "--train-size", "50", "--out", tmp_path / "k")
    manifest = json.loads((tmp_path / "k" / "manifest.json").read_text())
    assert manifest["data"]["train"] == 50 and manifest["data"]["test"] == 100
    assert manifest["data"]["train_subset"] == {"size": 50, "of": 400, "seed": 0, "stratified": True}
    assert manifest["data_check"]["model"] == "same data"  # a subset of the set the model was trained on
    assert manifest["parameters"]["inputs"]["data_fingerprint"] != data_fingerprint(tiny_data(tiny_mnist_dir))
    with pytest.raises(CommandError, match=r"^--train-size: a subset of 401 training images: the data has only 400$"):
        run(*common, "--train-size", "401", "--out", tmp_path / "too-many")
    assert not (tmp_path / "too-many").exists()


def test_without_train_size_the_cells_train_on_as_many_images_as_the_embedded_set_has(
    tiny_mnist_dir, tiny_model_path, tmp_path, monkeypatch
):
    from kar.management.commands import run_kar as command

    assert command.TRAIN_SIZE == 4000  # more than the tiny files' 400: every test here trains on all of them
    parser = command.Command().create_parser("manage.py", "run_kar")
    [option] = [a for a in parser._actions if a.dest == "train_size"]
    assert "(default 4000, or all of them where the data has fewer)" in option.help
    monkeypatch.setattr(command, "TRAIN_SIZE", 2)  # applied without the option: refused as --train-size 2 is
    with pytest.raises(CommandError, match=r"^--train-size: a subset of 2 training images: fewer than the 10 classes"):
        run("--model", tiny_model_path, "--mnist-dir", tiny_mnist_dir, "--out", tmp_path / "k", *FAST)
    assert not (tmp_path / "k").exists()


def test_an_out_path_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(CommandError, match="exists and is not a folder"):
        run("--out", tmp_path / "file")


def test_paper_gives_the_papers_grid_and_explicit_options_still_win():
    paper = spec_from_options({"paper": True})
    assert paper.thresholds == (10, 20, 30, 40, 50, 60, 70, 80, 90)
    assert paper.runs == 5 and paper.train.epochs == 30
    assert paper.feature_sets == ("pixels", "conv") and paper.methods == registry.names(kar=True)
    assert len(paper.cells()) == 2 * 5 + 2 * len(registry.names(kar=True)) * 9 * 5
    tweaked = spec_from_options({"paper": True, "runs": 2, "thresholds": "90,10"})
    assert tweaked.runs == 2 and tweaked.thresholds == (10, 90) and tweaked.train.epochs == 30
    default = spec_from_options({})
    assert default.thresholds == DEFAULT_THRESHOLDS and default.runs == 1 and default.train.epochs < 30


# --------------------------------------------------------------------------
# A real (tiny) run
# --------------------------------------------------------------------------


def test_a_run_writes_results_summary_figures_rankings_and_manifest_and_resumes(
    tiny_mnist_dir, tiny_model_path, tmp_path
):
    make_set(tmp_path, "tiny-set", file_sha256(tiny_model_path), tiny_data(tiny_mnist_dir))
    out = tmp_path / "kar-run"
    args = [
        "--model",
        tiny_model_path,
        "--mnist-dir",
        tiny_mnist_dir,
        "--out",
        out,
        "--explanations",
        "tiny-set",
        "--methods",
        "random,normlime",
        "--thresholds",
        "50",
        *FAST,
    ]
    text = run(*args)
    assert "6 cells trained now, 0 reused" in text
    assert "KAR on input pixels (784)" in text and "KAR on conv features (1600)" in text

    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["feature_set"], r["method"], r["threshold"]) for r in rows] == [
        ("pixels", "baseline", "0"),
        ("conv", "baseline", "0"),
        ("pixels", "random", "50"),
        ("pixels", "normlime", "50"),
        ("conv", "random", "50"),
        ("conv", "normlime", "50"),
    ]
    assert all(r["mode"] == "kar" and 0 <= float(r["accuracy"]) <= 1 for r in rows)
    summary = list(csv.DictReader(open(out / "summary.csv")))
    assert {(s["feature_set"], s["method"]) for s in summary} >= {("pixels", "normlime"), ("conv", "random")}
    for figure in ("fig5_pixels.png", "fig6_conv.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # one run: every claim of the paper is judged, and none can be decided without an interval
    verdicts = json.loads((out / "verdicts.json").read_text())
    assert [v["claim"] for v in verdicts] == ["pixels-50-zero", "conv-30-best", "conv-80-90-lowest"]
    assert {v["outcome"] for v in verdicts} == {"inconclusive"}
    assert "The paper's claims:" in text and "**inconclusive**" in text

    with np.load(out / "rankings.npz") as rankings:
        assert rankings["pixels/normlime/1"].shape == (784,) and rankings["conv/normlime/1"].shape == (1600,)

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["sha256"] == file_sha256(tiny_model_path)
    assert manifest["explanation_set"]["name"] == "tiny-set"
    assert manifest["data_check"]["explanation_set"] == "same data"
    assert manifest["data"]["train"] == 400 and "train_subset" not in manifest["data"]  # fewer than 4000: all
    assert manifest["parameters"]["inputs"]["data_fingerprint"] == manifest["data_check"]["data_fingerprint"]
    for fs in ("pixels", "conv"):  # every method explains the same per-class images, by true label
        source = manifest["rankings"][f"{fs}/normlime/1"]
        assert source["images"] == 10 and source["per_class"] == 1 and source["target"] == "true label"
        assert 0 <= source["never_selected"] <= manifest["feature_spaces"][fs]["features"]
    assert manifest["parameters"]["ranking"]["per_class"] == 1
    # the claims' "original model": the explained checkpoint itself on the same test digits
    from explainers.data import load_mnist
    from explainers.model import accuracy, load_checkpoint

    checkpoint, data = load_checkpoint(tiny_model_path), load_mnist(tiny_mnist_dir)
    assert manifest["original_model"]["test_images"] == len(data.y_test)
    assert manifest["original_model"]["accuracy"] == round(accuracy(checkpoint, data.x_test, data.y_test), 6)
    assert manifest["parameters"]["thresholds"] == [50] and manifest["parameters"]["train"]["epochs"] == 1
    assert manifest["versions"]["torch"] and manifest["timings"]["cell_seconds_sum"] > 0

    assert "label" not in manifest
    again = run(*args, "--label", "a relabelled run")
    assert "0 cells trained now, 6 reused" in again  # a label is a description, not a parameter
    assert json.loads((out / "manifest.json").read_text())["label"] == "a relabelled run"
    with pytest.raises(CommandError, match=r"other parameters \(thresholds \[50\] -> \[50, 90\]\)"):
        run(*[a if a != "50" else "50,90" for a in args])


def test_on_a_full_disk_it_stops_in_one_line_and_the_same_command_resumes_without_retraining_a_cell(
    tiny_mnist_dir, tiny_model_path, tmp_path, small_volume, monkeypatch
):
    from kar.core import runner

    args = ["--model", tiny_model_path, "--mnist-dir", tiny_mnist_dir, "--explanations", "none"]
    args += ["--feature-sets", "pixels", "--methods", "random,normlime", "--thresholds", "50", "--runs", "2", *FAST]
    run(*args, "--out", tmp_path / "whole")  # the same grid on a disk with room: 2 runs x 3 cells
    volume = small_volume("2m")
    out = volume.path / "kar"
    real, trained, fill_at = runner.run_cell_task, [], {}

    def train_and_fill(task, cell):
        trained.append(cell)
        done = real(task, cell)
        if len(trained) == fill_at.get("cell"):
            volume.fill()  # the volume fills up as this cell finishes
        return done

    monkeypatch.setattr(runner, "run_cell_task", train_and_fill)

    def stopped_on_a_full_disk() -> list[dict]:
        with pytest.raises(CommandError) as info:
            run(*args, "--out", out)
        message = str(info.value)
        assert "\n" not in message and message.startswith(f"No space left on device writing {out}/")
        assert f" free on {volume.path}; free some space and run the same command again (it resumes)" in message
        assert leftovers(out) == []
        check_whole(out)  # every file there reads through: results.csv has whole rows only
        return list(csv.DictReader(open(out / "results.csv"))) if (out / "results.csv").exists() else []

    # Full as the first cell finishes: its row does not fit, and no part of it is left.
    fill_at["cell"] = 1
    assert stopped_on_a_full_disk() == [] and len(trained) == 1
    (volume.path / "filler").unlink()
    # Full again as the second cell of the next session finishes: the rest of run 1 fits, run 2 does not.
    trained.clear()
    fill_at["cell"] = 2
    kept = stopped_on_a_full_disk()
    assert 0 < len(kept) < 6
    done = {(r["method"], r["threshold"], r["run"]) for r in kept}

    volume.resize("64m")  # space freed
    trained.clear()
    fill_at.clear()
    text = run(*args, "--out", out)
    assert f"{6 - len(kept)} cells trained now, {len(kept)} reused" in text
    assert len(trained) == 6 - len(kept) and not done & {(c.method, str(c.threshold), str(c.run)) for c in trained}
    assert {"results.csv", "summary.csv", "manifest.json", "rankings.npz", "fig5_pixels.png"} <= set(check_whole(out))
    assert leftovers(out) == []

    def without_seconds(folder):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(open(folder / "results.csv"))]

    assert without_seconds(out) == without_seconds(tmp_path / "whole")
    with np.load(out / "rankings.npz") as resumed, np.load(tmp_path / "whole" / "rankings.npz") as whole:
        assert sorted(resumed.files) == sorted(whole.files)
        for key in whole.files:
            np.testing.assert_array_equal(resumed[key], whole[key], err_msg=key)


def test_auto_picks_this_models_newest_explanation_set_and_none_checks_against_none(
    tiny_mnist_dir, tiny_model_path, tmp_path
):
    make_set(tmp_path, "auto-set", file_sha256(tiny_model_path), tiny_data(tiny_mnist_dir))
    common = [
        "--model",
        tiny_model_path,
        "--mnist-dir",
        tiny_mnist_dir,
        "--feature-sets",
        "pixels",
        "--methods",
        "random",
        "--thresholds",
        "90",
        *FAST,
    ]
    run(*common, "--out", tmp_path / "auto")
    assert json.loads((tmp_path / "auto" / "manifest.json").read_text())["explanation_set"]["name"] == "auto-set"
    run(*common, "--out", tmp_path / "none", "--explanations", "none")
    assert json.loads((tmp_path / "none" / "manifest.json").read_text())["explanation_set"] is None


# --------------------------------------------------------------------------
# --precision (issue 10): refused in one line without the hardware, part of the run's parameters
# --------------------------------------------------------------------------


def test_bf16_is_refused_in_one_line_where_the_hardware_lacks_it(
    tiny_mnist_dir, tiny_model_path, tmp_path, monkeypatch
):
    from explainers import compute

    monkeypatch.setattr(compute, "bf16_supported", lambda device="cpu": False)
    with pytest.raises(CommandError, match=r"^--precision bf16: this CPU has no native bfloat16[^\n]*$"):
        run(
            "--out",
            tmp_path / "k",
            "--model",
            tiny_model_path,
            "--mnist-dir",
            tiny_mnist_dir,
            "--precision",
            "bf16",
            *FAST,
        )
    assert not (tmp_path / "k").exists()  # refused before any work


def test_confounds_adds_kars_own_variants_to_the_methods_and_methods_may_name_them():
    from kar.core import rankers

    assert spec_from_options({"confounds": True}).methods == registry.names(kar=True) + rankers.variant_names()
    assert spec_from_options({"methods": "normlime,variance"}).methods == ("normlime", "variance")
    assert spec_from_options({"methods": "normlime", "confounds": True}).methods == (
        "normlime",
        *rankers.variant_names(),
    )


def test_the_precision_is_one_of_the_parameters_that_decide_a_runs_numbers():
    assert spec_from_options({}).parameters()["precision"] == "fp32"
    assert spec_from_options({"precision": "bf16"}).parameters()["precision"] == "bf16"


def test_without_a_readable_database_auto_checks_no_explanation_set_and_says_so(monkeypatch):
    from django.db import OperationalError

    from kar.management.commands import run_kar as command

    def unmigrated(choice, model_sha):
        raise OperationalError("no such table: explainers_explanationset")

    monkeypatch.setattr(command, "_explanation_set", unmigrated)
    said = []
    assert command.resolve_explanations("auto", "d" * 64, warn=said.append) is None
    assert said == [
        "no explanation set to check against: the database cannot be read (no such table: "
        "explainers_explanationset; run manage.py migrate); the model's data is still checked"
    ]
    with pytest.raises(CommandError) as error:
        command.resolve_explanations("demo", "d" * 64)
    assert str(error.value) == (
        "--explanations demo: the database cannot be read (no such table: "
        "explainers_explanationset); run manage.py migrate"
    )


# --------------------------------------------------------------------------
# A method added by the registry's recipe (one module, one entry, no kar flag)
# --------------------------------------------------------------------------


def gradient_free_saliency(model, X, targets=None, *, batch_size, seed=0, instance_ids=None, progress=None):
    """A stand-in for explainers/methods/<new>.py keeping the per-image contract: |x| for every image."""
    if progress is not None:
        progress(len(X))
    return np.abs(np.asarray(X, dtype=np.float64))


@pytest.fixture
def new_method(monkeypatch):
    import sys
    import types

    module = types.ModuleType("new_saliency.methods")
    module.gradient_free_saliency = gradient_free_saliency
    monkeypatch.setitem(sys.modules, "new_saliency.methods", module)
    method = registry.Method(
        "magnitude",
        "Magnitude",
        "#000000",
        signed=False,
        source=registry.Source.PER_IMAGE,
        function="new_saliency.methods:gradient_free_saliency",
    )
    monkeypatch.setattr(registry, "METHODS", (*registry.METHODS, method))
    return method


def test_a_new_per_image_method_without_a_kar_flag_leaves_the_default_grid_working(
    new_method, tiny_mnist_dir, tiny_model_path, tmp_path
):
    assert not new_method.kar and "magnitude" in registry.names()
    default = spec_from_options({})
    assert default.methods == registry.names(kar=True) and "magnitude" not in default.methods
    out = tmp_path / "default-grid"
    text = run(
        "--model",
        tiny_model_path,
        "--mnist-dir",
        tiny_mnist_dir,
        "--out",
        out,
        "--explanations",
        "none",
        "--thresholds",
        "50",
        *FAST,
    )
    cells = 2 + 2 * len(registry.names(kar=True))
    assert f"{cells} cells trained now, 0 reused" in text
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert {r["method"] for r in rows} == {"baseline", *registry.names(kar=True)}
    with pytest.raises(CommandError, match="unknown name 'magnitude'"):
        run(
            "--model",
            tiny_model_path,
            "--mnist-dir",
            tiny_mnist_dir,
            "--out",
            tmp_path / "asked",
            "--methods",
            "magnitude",
            *FAST,
        )


# --------------------------------------------------------------------------
# Another data set: the example image folder (3 RGB classes, 32 x 32)
# --------------------------------------------------------------------------


@pytest.fixture
def shapes_model(shapes_dir, tmp_path) -> tuple[str, Path]:
    """(--data, an untrained checkpoint of the paper's CNN for the folder's 3 x 32 x 32 images and 3 classes)."""
    from explainers.data import load_data
    from explainers.model import new_model, save_checkpoint

    data = f"imagefolder:{shapes_dir}"
    classes = load_data(data).classes
    path = tmp_path / "shapes.pt"
    save_checkpoint(new_model(0, shape=(3, 32, 32), n_classes=len(classes)), path, classes)
    return data, path


def test_a_run_on_an_image_folder_ranks_its_pixel_values_and_conv_features_and_names_their_counts(
    shapes_model, tmp_path
):
    data, model = shapes_model
    out = tmp_path / "shapes-run"
    text = run(
        "--model", model, "--data", data, "--out", out, "--explanations", "none",
        "--methods", "random,ig", "--thresholds", "50", *FAST,
    )  # fmt: skip
    assert "6 cells trained now, 0 reused" in text
    assert "KAR on input pixel values (3072: 3 channels x 32 x 32)" in text and "KAR on conv features (2304)" in text
    assert "The paper's claims" not in text  # the paper's claims are about MNIST

    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["feature_set"], r["method"], r["threshold"]) for r in rows] == [
        ("pixels", "baseline", "0"),
        ("conv", "baseline", "0"),
        ("pixels", "random", "50"),
        ("pixels", "ig", "50"),
        ("conv", "random", "50"),
        ("conv", "ig", "50"),
    ]
    assert all(0 <= float(r["accuracy"]) <= 1 for r in rows)
    with np.load(out / "rankings.npz") as rankings:
        assert rankings["pixels/ig/1"].shape == (3072,) and rankings["conv/ig/1"].shape == (2304,)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["feature_spaces"]["pixels"]["shape"] == [3, 32, 32]
    assert manifest["feature_spaces"]["conv"]["features"] == 2304
    assert manifest["rankings"]["pixels/ig/1"]["images"] == 3  # one image of each of the 3 classes
    assert manifest["data"]["classes"] == ["circle", "square", "triangle"]
    report = (out / "report.md").read_text()
    assert "**KAR on input pixel values (3072: 3 channels x 32 x 32)**" in report
    assert "**KAR on conv features (2304)**" in report
    assert not (out / "verdicts.json").exists()


def test_a_checkpoint_made_for_other_images_is_refused_in_one_line(shapes_dir, tmp_path):
    from explainers.model import new_model, save_checkpoint

    save_checkpoint(new_model(0), tmp_path / "mnist.pt")
    with pytest.raises(CommandError, match=r"made for images of 1 x 28 x 28, but the data set's are 3 x 32 x 32"):
        run("--model", tmp_path / "mnist.pt", "--data", f"imagefolder:{shapes_dir}", "--out", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def scripted(path: Path) -> Path:
    """A researcher's own model for the shapes, as a TorchScript file: no conv block, no head."""
    import torch

    torch.jit.save(torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3072, 3))), str(path))
    return path


def test_conv_features_are_refused_in_one_line_for_a_model_that_is_not_our_cnn(shapes_dir, tmp_path):
    model = scripted(tmp_path / "own.pt")
    with pytest.raises(CommandError, match=r"--feature-sets conv: --model own.pt is not the paper's CNN") as info:
        run("--model", model, "--data", f"imagefolder:{shapes_dir}", "--out", tmp_path / "out", *FAST)
    assert "\n" not in str(info.value) and not (tmp_path / "out").exists()


def test_a_researchers_own_model_is_explained_on_pixels_and_the_papers_cnn_retrained(shapes_dir, tmp_path):
    model = scripted(tmp_path / "own.pt")
    out = tmp_path / "own-run"
    text = run(
        "--model", model, "--data", f"imagefolder:{shapes_dir}", "--feature-sets", "pixels", "--out", out,
        "--explanations", "none", "--methods", "random,smoothgrad", "--thresholds", "90", *FAST,
    )  # fmt: skip
    assert "3 cells trained now" in text
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["method"], r["threshold"]) for r in rows] == [("baseline", "0"), ("random", "90"), ("smoothgrad", "90")]
