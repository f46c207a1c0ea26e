"""manage.py generate_explanations: files, database registration, resumption (after a full disk too), bad input."""

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from explainers import generation
from explainers.methods import registry
from explainers.models import ClassMap, ExplanationSet
from tests.disk import check_whole, leftovers

pytestmark = pytest.mark.django_db

# SHAP over 14x14-pixel patches: 4 players, every coalition enumerated (16 forward passes an image)
SMALL = dict(per_class=2, num_samples=60, num_features=5, device="cpu", verbosity=0, option=["shap.patch=14"])
MAPS = 10 * len(registry.METHODS)


def run(out, model, mnist, **extra):
    call_command("generate_explanations", out=str(out), model=str(model), mnist_dir=str(mnist), **{**SMALL, **extra})


def test_it_writes_weights_maps_pictures_and_a_manifest(tiny_model_path, tiny_mnist_dir, tmp_path):
    out = tmp_path / "set-a"
    run(out, tiny_model_path, tiny_mnist_dir)
    weights = np.load(out / "local_weights.npz")
    assert weights["W"].shape == (20, 784) and len(weights["labels"]) == 20 and len(weights["indices"]) == 20
    assert ((weights["W"] != 0).sum(1) <= 5).all()
    maps = np.load(out / "maps.npz")
    for method in (*registry.names(), "normlime_signed", "lime_signed"):
        assert maps[method].shape == (10, 784), method
    assert maps["normlime_global"].shape == (784,)
    assert (maps["normlime"] >= 0).all() and (maps["lime"] >= 0).all() and (maps["shap"] >= 0).all()
    np.testing.assert_allclose(np.abs(maps["normlime_signed"]), maps["normlime"])
    for method in registry.names():
        for digit in range(10):
            assert Image.open(out / "png" / f"{method}_{digit}.png").size == (280, 280)
    assert Image.open(out / "overview.png").size[0] > Image.open(out / "overview.png").size[1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["num_samples"] == 60 and manifest["parameters"]["seed"] == 0
    assert len(manifest["model"]["sha256"]) == 64 and "IDX" in manifest["data"]["source"]
    assert {"lime_local", "smoothgrad_vargrad", "shap", "total"} <= set(manifest["seconds"])
    assert manifest["methods"]["shap"]["options"] == {"patch": 14, "num_samples": None}
    assert not (out / generation.CACHE_NAME).exists()


def test_it_registers_the_set_with_the_maps_of_every_method_as_shown(tiny_model_path, tiny_mnist_dir, tmp_path):
    run(tmp_path / "set-b", tiny_model_path, tiny_mnist_dir)
    explanation_set = ExplanationSet.objects.get(name="set-b")
    assert explanation_set.maps.count() == MAPS
    assert set(explanation_set.maps.values_list("method", flat=True)) == set(registry.names())
    maps = np.load(tmp_path / "set-b" / "maps.npz")
    shown = ClassMap.objects.get(explanation_set=explanation_set, method="normlime", digit=3).array()
    np.testing.assert_allclose(shown.reshape(784), np.clip(maps["normlime_signed"][3], 0, None), rtol=1e-6)


def test_running_again_replaces_the_set_instead_of_duplicating_it(tiny_model_path, tiny_mnist_dir, tmp_path):
    run(tmp_path / "set-c", tiny_model_path, tiny_mnist_dir)
    run(tmp_path / "set-c", tiny_model_path, tiny_mnist_dir, seed=1)
    assert ExplanationSet.objects.filter(name="set-c").count() == 1
    assert ClassMap.objects.filter(explanation_set__name="set-c").count() == MAPS
    assert ExplanationSet.objects.get(name="set-c").parameters["seed"] == 1


def test_an_interrupted_run_resumes_and_gives_the_same_weights(tiny_model_path, tiny_mnist_dir, tmp_path, monkeypatch):
    run(tmp_path / "whole", tiny_model_path, tiny_mnist_dir, per_class=3)
    monkeypatch.setattr(generation, "CHUNK", 7)
    calls = {"n": 0}
    real = generation.lime_local

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(generation, "lime_local", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "broken", tiny_model_path, tiny_mnist_dir, per_class=3)
    cache = np.load(tmp_path / "broken" / generation.CACHE_NAME)
    assert int(cache["finished"].sum()) == 14  # two chunks of 7 were saved before the interruption
    assert not (tmp_path / "broken" / "maps.npz").exists()  # nothing final was half-written
    monkeypatch.setattr(generation, "lime_local", real)
    calls_after = {"n": 0}

    def counting(*args, **kwargs):
        calls_after["n"] += len(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(generation, "lime_local", counting)
    run(tmp_path / "broken", tiny_model_path, tiny_mnist_dir, per_class=3)
    assert calls_after["n"] == 30 - 14  # only the missing explanations were computed
    np.testing.assert_allclose(
        np.load(tmp_path / "broken" / "local_weights.npz")["W"], np.load(tmp_path / "whole" / "local_weights.npz")["W"]
    )
    assert json.loads((tmp_path / "broken" / "manifest.json").read_text())["resumed_from"] == 14


def test_lime_batches_on_a_dask_local_cluster_give_the_same_weights_as_one_process(
    tiny_model_path, tiny_mnist_dir, tmp_path, monkeypatch
):
    import torch

    monkeypatch.setattr(generation, "CHUNK", 6)  # 20 explanations: 4 batches over 2 worker processes
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each Dask worker runs: the same float rounding
    try:
        run(tmp_path / "here", tiny_model_path, tiny_mnist_dir)
    finally:
        torch.set_num_threads(threads)
    run(tmp_path / "dask", tiny_model_path, tiny_mnist_dir, jobs=2)
    here, dask = (np.load(tmp_path / name / "local_weights.npz")["W"] for name in ("here", "dask"))
    np.testing.assert_array_equal(dask, here)
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["lime_executor"] == {"kind": "DaskExecutor", "workers": 2}


def test_an_unreachable_scheduler_is_a_one_line_error(tiny_model_path, tiny_mnist_dir, tmp_path):
    with pytest.raises(CommandError, match=r"--scheduler tcp://127.0.0.1:1: cannot connect"):
        run(tmp_path / "x", tiny_model_path, tiny_mnist_dir, scheduler="tcp://127.0.0.1:1")
    assert not ExplanationSet.objects.exists()


def test_a_cache_from_other_parameters_is_not_reused(tiny_model_path, tiny_mnist_dir, tmp_path):
    out = tmp_path / "set-d"
    out.mkdir()
    np.savez(
        out / generation.CACHE_NAME, W=np.ones((20, 784)), finished=np.ones(20, bool), fingerprint=np.array("other")
    )
    run(out, tiny_model_path, tiny_mnist_dir)
    assert ((np.load(out / "local_weights.npz")["W"] != 0).sum(1) <= 5).all()


def test_a_missing_model_is_a_one_line_error(tiny_mnist_dir, tmp_path):
    with pytest.raises(CommandError, match="no such model checkpoint"):
        run(tmp_path / "x", tmp_path / "absent.pt", tiny_mnist_dir)
    assert not ExplanationSet.objects.exists()


@pytest.mark.parametrize(
    "option, value, message",
    [("per_class", 0, "--per-class must be a positive"), ("num_samples", -5, "--num-samples must be a positive")],
)
def test_non_positive_sizes_are_refused(tiny_model_path, tiny_mnist_dir, tmp_path, option, value, message):
    with pytest.raises(CommandError, match=message):
        run(tmp_path / "x", tiny_model_path, tiny_mnist_dir, **{option: value})


def test_a_name_with_odd_characters_is_refused(tiny_model_path, tiny_mnist_dir, tmp_path):
    with pytest.raises(CommandError, match="use letters, digits"):
        run(tmp_path / "x", tiny_model_path, tiny_mnist_dir, name="bad name!")


def test_a_set_that_a_study_was_built_from_is_not_replaced(tiny_model_path, tiny_mnist_dir, tmp_path):
    from survey.services import create_study

    run(tmp_path / "used", tiny_model_path, tiny_mnist_dir)
    explanation_set = ExplanationSet.objects.get(name="used")
    create_study(explanation_set, name="Pilot", slug="pilot", seed=0)
    before = bytes(explanation_set.map_for("lime", 3).png)
    with pytest.raises(
        CommandError, match="explanation set 'used' is used by study pilot; generate into another --name"
    ):
        run(tmp_path / "used", tiny_model_path, tiny_mnist_dir, seed=5)
    assert bytes(ExplanationSet.objects.get(name="used").map_for("lime", 3).png) == before


def test_an_unknown_method_option_is_a_one_line_error(tiny_model_path, tiny_mnist_dir, tmp_path):
    with pytest.raises(CommandError, match=r"--option: shap: unknown option\(s\) steps \(known: patch, num_samples\)"):
        run(tmp_path / "x", tiny_model_path, tiny_mnist_dir, option=["shap.steps=4"])
    with pytest.raises(CommandError, match="unknown method 'gradcam'"):
        run(tmp_path / "x", tiny_model_path, tiny_mnist_dir, option=["gradcam.steps=4"])


def test_the_manifest_records_the_precision_and_memory_format(tiny_model_path, tiny_mnist_dir, tmp_path):
    run(tmp_path / "set-c", tiny_model_path, tiny_mnist_dir)
    manifest = json.loads((tmp_path / "set-c" / "manifest.json").read_text())
    assert manifest["compute"] == {"precision": "fp32", "memory_format": "channels_last"}


def test_bf16_is_refused_in_one_line_where_the_hardware_lacks_it(
    tiny_model_path, tiny_mnist_dir, tmp_path, monkeypatch
):
    from explainers import compute

    monkeypatch.setattr(compute, "bf16_supported", lambda device="cpu": False)
    with pytest.raises(CommandError, match=r"^--precision bf16: this CPU has no native bfloat16[^\n]*$"):
        run(tmp_path / "set-d", tiny_model_path, tiny_mnist_dir, precision="bf16")
    assert not (tmp_path / "set-d").exists()
    assert not ExplanationSet.objects.filter(name="set-d").exists()


@pytest.fixture
def colour_model(shapes_dir, tmp_path):
    """An untrained network for the example folder's 3 x 32 x 32 images, saved as a checkpoint with its classes."""
    from explainers.imagefolder import load_imagefolder
    from explainers.model import new_model, save_checkpoint

    data = load_imagefolder(shapes_dir)
    model = new_model(0, shape=data.shape, n_classes=data.n_classes)
    save_checkpoint(model, tmp_path / "shapes.pt", data.classes)
    return model, tmp_path / "shapes.pt"


COLOUR = dict(
    per_class=2, num_samples=50, images_per_class=2, num_features=5, device="cpu", verbosity=0, option=["shap.patch=16"]
)


def test_an_image_folder_set_records_its_classes_and_shape_and_has_a_map_per_class(
    colour_model, shapes_dir, tmp_path, staff_client
):
    _, path = colour_model
    out = tmp_path / "shapes-set"
    call_command("generate_explanations", out=str(out), model=str(path), data=f"imagefolder:{shapes_dir}", **COLOUR)
    explanation_set = ExplanationSet.objects.get(name="shapes-set")
    assert explanation_set.classes == ["circle", "square", "triangle"] and explanation_set.map_shape == (32, 32)
    assert explanation_set.layout["shape"] == [3, 32, 32] and explanation_set.noun == "class"
    maps = np.load(out / "maps.npz")
    for method in registry.names():
        assert maps[method].shape == (3, 32 * 32), method
    assert explanation_set.maps.count() == 3 * len(registry.METHODS)
    assert explanation_set.map_for("smoothgrad", 2).array().shape == (32, 32)
    assert Image.open(out / "png" / "ig_2.png").size == (288, 288)
    html = staff_client.get(explanation_set.get_absolute_url()).content.decode()
    for name in explanation_set.classes:
        assert f'role="columnheader">{name}</div>' in html
    assert 'alt="NormLIME map of class circle"' in html


def test_a_torchscript_model_of_an_image_folder_gives_the_same_maps(colour_model, shapes_dir, tmp_path):
    import torch

    model, path = colour_model
    scripted = tmp_path / "shapes.ts"
    torch.jit.trace(model.eval(), torch.zeros(2, 3 * 32 * 32)).save(str(scripted))
    data = f"imagefolder:{shapes_dir}"
    call_command("generate_explanations", out=str(tmp_path / "ckpt"), model=str(path), data=data, **COLOUR)
    call_command("generate_explanations", out=str(tmp_path / "ts"), model=str(scripted), data=data, **COLOUR)
    ours, theirs = np.load(tmp_path / "ckpt" / "maps.npz"), np.load(tmp_path / "ts" / "maps.npz")
    for method in registry.names():
        np.testing.assert_allclose(theirs[method], ours[method], rtol=1e-4, atol=1e-7, err_msg=method)
    assert ExplanationSet.objects.get(name="ts").classes == ["circle", "square", "triangle"]


def test_on_a_full_disk_it_stops_in_one_line_and_the_same_command_resumes_to_the_same_set(
    tiny_model_path, tiny_mnist_dir, tmp_path, small_volume, monkeypatch
):
    few = dict(per_class=1, images_per_class=1)
    run(tmp_path / "whole", tiny_model_path, tiny_mnist_dir, **few)
    explained = json.loads((tmp_path / "whole" / "manifest.json").read_text())["explained"]["local_explanations"]
    volume = small_volume("256k")  # room for the LIME cache, not for the maps and pictures (some 700k on a tmpfs)
    out = volume.path / "full"
    with pytest.raises(CommandError) as info:
        run(out, tiny_model_path, tiny_mnist_dir, **few)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"No space left on device writing {out}/")
    assert "files written together): they need about " in message and f" free on {volume.path}; " in message
    assert message.endswith("free some space and run the same command again (it resumes)")
    assert check_whole(out) == [generation.CACHE_NAME] and leftovers(out) == []  # the LIME work, whole
    assert not ExplanationSet.objects.filter(name="full").exists()

    volume.resize("16m")  # space freed
    real, explained_again = generation.lime_local, []
    monkeypatch.setattr(generation, "lime_local", lambda *a, **k: explained_again.append(a) or real(*a, **k))
    said = StringIO()
    run(out, tiny_model_path, tiny_mnist_dir, stdout=said, **few)
    assert explained_again == [] and f"(resumed after {explained} cached)" in said.getvalue()
    files = check_whole(out)
    assert {"maps.npz", "local_weights.npz", "overview.png", "manifest.json"} <= set(files) and leftovers(out) == []
    assert generation.CACHE_NAME not in files and len([f for f in files if f.startswith("png/")]) == MAPS
    for name in ("maps.npz", "local_weights.npz"):
        with np.load(out / name) as resumed, np.load(tmp_path / "whole" / name) as whole:
            assert resumed.files == whole.files
            for key in whole.files:
                np.testing.assert_array_equal(resumed[key], whole[key], err_msg=f"{name}: {key}")
    assert json.loads((out / "manifest.json").read_text())["resumed_from"] == explained
    assert ExplanationSet.objects.get(name="full").maps.count() == MAPS
