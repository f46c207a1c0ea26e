"""manage.py import_maps: maps computed elsewhere registered as a set, or refused in one line with nothing written."""

import hashlib
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from explainers.methods import registry
from explainers.models import ClassMap, ExplanationSet
from tests.explainers.bundling import written

pytestmark = pytest.mark.django_db

SHAPES = ["circle", "square", "triangle"]


@pytest.fixture
def maps_file(tmp_path):
    """Write FILE.npz from arrays; returns its path."""

    def write(name="captum", **arrays):
        path = tmp_path / f"{name}.npz"
        np.savez(path, **arrays)
        return path

    return write


def meta(**entries):
    return np.array(json.dumps(entries))


def run(path, shapes_dir, **opts):
    call_command("import_maps", str(path), data=f"imagefolder:{shapes_dir}", verbosity=0, **opts)


def test_maps_of_an_image_folder_become_a_set_with_its_classes_pictures_and_provenance(
    maps_file, shapes_dir, data_dir, tmp_path
):
    rng = np.random.default_rng(0)
    ig, smoothgrad = rng.normal(size=(3, 32, 32)), rng.random((3, 32 * 32))  # both layouts are accepted
    path = maps_file(ig=ig, smoothgrad=smoothgrad, meta=meta(labels={"ig": "IntegratedGradients"}, source="Captum"))
    model = tmp_path / "net.pt"
    model.write_bytes(b"weights")
    run(path, shapes_dir, model=str(model))

    explanation_set = ExplanationSet.objects.get(name="captum")
    assert explanation_set.classes == SHAPES and explanation_set.map_shape == (32, 32)
    assert explanation_set.maps.count() == 6
    shown = ClassMap.objects.get(explanation_set=explanation_set, method="ig", digit=2).array()
    np.testing.assert_allclose(shown, np.clip(ig[2], 0, None), rtol=1e-6)  # a signed map: its positive part
    np.testing.assert_allclose(explanation_set.map_for("smoothgrad", 0).array().ravel(), smoothgrad[0], rtol=1e-6)
    folder = data_dir / "explanations" / "captum"
    assert explanation_set.directory == str(folder.resolve())
    saved = np.load(folder / "maps.npz")
    np.testing.assert_array_equal(saved["ig_signed"], ig.reshape(3, -1))
    assert sorted(saved.files) == ["ig", "ig_signed", "smoothgrad"]
    assert Image.open(folder / "png" / "ig_2.png").size == (288, 288)
    assert (folder / "overview.png").read_bytes() == bytes(explanation_set.overview_png)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["imported_from"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["model"]["sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert manifest["data"]["classes"] == SHAPES and manifest["source"] == "Captum"
    assert manifest["methods"]["ig"]["labelled"] == "IntegratedGradients"
    assert explanation_set.manifest == manifest
    assert [p.name for p in folder.parent.iterdir()] == ["captum"]  # no temporary folder left


def test_mnist_maps_without_a_model_record_none_and_take_the_name_given(maps_file, tiny_mnist_dir, data_dir):
    path = maps_file(lime=np.ones((10, 784)), random=np.ones((10, 28, 28)))
    call_command("import_maps", str(path), data=f"mnist:{tiny_mnist_dir}", name="elsewhere", verbosity=0)
    explanation_set = ExplanationSet.objects.get(name="elsewhere")
    assert explanation_set.model_sha256 == "none" and explanation_set.classes == [str(d) for d in range(10)]
    assert explanation_set.maps.count() == 20 and explanation_set.map_for("lime", 9).array().shape == (28, 28)


GOOD = np.zeros((3, 32, 32))


@pytest.mark.parametrize(
    "arrays, says",
    [
        (
            {"smoothgrad": GOOD, "gradcam": GOOD},
            f"'gradcam' is not a registered method; name the arrays by one of {', '.join(registry.names())}",
        ),
        ({"smoothgrad": GOOD}, "holds 1 method's maps; a set compares at least 2 methods"),
        (
            {"smoothgrad": GOOD, "ig": np.zeros((10, 32, 32))},
            "ig's maps are 10 x 32 x 32, but --data has 3 classes of 32 x 32 pixels: give 3 x 32 x 32 (or 3 x 1024)",
        ),
        ({"smoothgrad": GOOD, "ig": np.zeros((3, 28, 28))}, "ig's maps are 3 x 28 x 28, but --data has 3 classes"),
        ({"smoothgrad": GOOD, "ig": np.full((3, 1024), np.inf)}, "ig's maps hold NaN or infinite values"),
        ({"smoothgrad": GOOD, "ig": np.full((3, 1024), "x")}, "'ig' holds <U1 values, not numbers"),
        ({"smoothgrad": GOOD, "ig": GOOD, "meta": np.array("{not json")}, "(it is not JSON)"),
        ({"smoothgrad": GOOD, "ig": GOOD, "meta": meta(author="me")}, "'meta' must be a 0-d string array"),
        ({"smoothgrad": GOOD, "ig": GOOD, "meta": meta(labels={"lime": "LIME"})}, "labels name 'lime', which has no"),
    ],
)
def test_maps_that_do_not_fit_are_refused_in_one_line_and_nothing_is_written(
    maps_file, shapes_dir, data_dir, arrays, says
):
    path = maps_file(**arrays)
    before = written(data_dir)
    with pytest.raises(CommandError) as caught:
        run(path, shapes_dir)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and says in message and "\n" not in message
    assert written(data_dir) == before


def test_a_pickled_or_foreign_file_is_refused(maps_file, shapes_dir, data_dir, tmp_path):
    pickled = maps_file(lime=np.array([{"a": 1}], dtype=object), smoothgrad=GOOD)
    text = tmp_path / "notes.npz"
    text.write_text("not numpy")
    for path in (pickled, text):
        with pytest.raises(CommandError, match="not an .npz file saved by NumPy without pickled objects"):
            run(path, shapes_dir)
    with pytest.raises(CommandError, match="absent.npz: no such file"):
        run(tmp_path / "absent.npz", shapes_dir)
    assert written(data_dir) == ([], [])


def test_a_taken_or_odd_name_a_missing_model_and_a_full_folder_are_refused(maps_file, shapes_dir, data_dir, tmp_path):
    path = maps_file(smoothgrad=GOOD, ig=GOOD)
    run(path, shapes_dir)
    with pytest.raises(CommandError, match="^explanation set 'captum' exists; import with --name NEW$"):
        run(path, shapes_dir)
    with pytest.raises(CommandError, match="--name 'my set': use letters, digits"):
        run(path, shapes_dir, name="my set")
    with pytest.raises(CommandError, match="--model .*absent.pt: no such file"):
        run(path, shapes_dir, name="other", model=str(tmp_path / "absent.pt"))
    (data_dir / "explanations" / "full").mkdir()
    (data_dir / "explanations" / "full" / "notes.txt").write_text("mine")
    with pytest.raises(CommandError, match="full: exists and is not empty; import with --name NEW"):
        run(path, shapes_dir, name="full")
    assert list(ExplanationSet.objects.values_list("name", flat=True)) == ["captum"]


def test_a_failed_registration_leaves_neither_rows_nor_files(maps_file, shapes_dir, data_dir, monkeypatch):
    from explainers import maps_import

    def failing(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(maps_import, "atomic_write", failing)  # fails after the set's rows were made
    with pytest.raises(RuntimeError, match="disk full"):
        run(maps_file(smoothgrad=GOOD, ig=GOOD), shapes_dir)
    assert not ExplanationSet.objects.exists() and not ClassMap.objects.exists()
    assert list((data_dir / "explanations").iterdir()) == []
