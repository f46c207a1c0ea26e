"""A study of a data set other than MNIST end to end: three named RGB classes (the shapes image
folder, 3 x 32 x 32) -- create (the command, pictures from --data), answer (the real pages, which
name the classes), export (a class_name column), import into a fresh study, analyse."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from analysis.study import analyze_study
from survey.models import Item, Participant, ShownOption, Study, StudyImage
from survey.testing import make_explanation_set

pytestmark = pytest.mark.django_db

SHAPES = ("circle", "square", "triangle")
METHODS = ("normlime", "lime", "ig")


def _create(explanation_set, slug: str, *options: str) -> Study:
    call_command(
        "create_study",
        explanation_set.name,
        "--slug",
        slug,
        "--methods",
        ",".join(METHODS),
        "--seed",
        "3",
        *options,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    return Study.objects.get(slug=slug)


def _take_the_survey(client, study: Study, favourite: str) -> tuple[Participant, list[str]]:
    """Consent, every question (the checks right, ``favourite`` on every real one); the question pages' HTML."""
    started = client.post(reverse("survey:start", args=[study.slug]), {"consent": "on"})
    home = started["Location"]
    participant = Participant.objects.filter(study=study).order_by("-pk").first()
    url, pages = f"{home}q/1/", []
    while "/finish/" not in url:
        page = client.get(url)
        if page.status_code == 302:
            url = page["Location"]
            continue
        html = page.content.decode()
        pages.append(html)
        position = int(re.search(r"/q/(\d+)/$", url).group(1))
        shown = list(
            ShownOption.objects.filter(entry__participant=participant, entry__position=position)
            .order_by("position")
            .values_list("option__method", "option__is_correct")
        )
        if shown[0][0]:
            choice = [method for method, _ in shown].index(favourite) + 1
        else:
            choice = [ok for _, ok in shown].index(True) + 1
        item = int(re.search(r'name="item" value="(\d+)"', html).group(1))
        url = client.post(url, {"item": item, "choice": choice})["Location"]
    participant.refresh_from_db()
    return participant, pages


def test_a_study_of_three_rgb_shapes_is_created_taken_exported_imported_and_analysed(client, shapes_dir, tmp_path):
    explanation_set = make_explanation_set("shapes", METHODS, classes=SHAPES, shape=(3, 32, 32))
    study = _create(explanation_set, "shapes", "--data", f"imagefolder:{shapes_dir}")
    # Three classes and three methods: lcm(3, 2 x 3) = 6 (the odd Williams square has six rows); 24 >= 20.
    assert study.n_real_questions == 24 and study.classes == list(SHAPES)
    real = Item.objects.filter(study=study, kind="real")
    assert sorted(real.values_list("digit", flat=True)) == [0] * 8 + [1] * 8 + [2] * 8

    participant, pages = _take_the_survey(client, study, "lime")
    other, _ = _take_the_survey(client.__class__(), study, "ig")
    assert participant.passed and other.passed
    triangle = next(html for html in pages if '<mark class="digit">triangle</mark>' in html)
    assert 'distinguish <mark class="digit">triangle</mark> from the other two classes.' in triangle
    assert 'Label: <mark class="digit">triangle</mark>' in triangle and "the number" not in triangle

    exported = tmp_path / "shapes.csv"
    call_command("export_responses", study.slug, "-o", str(exported), stdout=io.StringIO(), stderr=io.StringIO())
    rows = list(csv.DictReader(exported.open()))
    header = list(rows[0])
    assert header[header.index("digit") + 1] == "class_name"
    assert {(row["digit"], row["class_name"]) for row in rows} == {("0", "circle"), ("1", "square"), ("2", "triangle")}

    fresh = _create(explanation_set, "replica", "--data", f"imagefolder:{shapes_dir}")
    call_command("import_responses", str(exported), "--study", fresh.slug, stdout=io.StringIO(), stderr=io.StringIO())
    report = analyze_study(fresh, n_boot=50)
    assert report.methods == METHODS
    assert report.analysis.tally.counts.tolist() == [[0, 24, 0], [0, 0, 24]]


def test_an_imported_class_name_that_is_not_the_studys_is_refused_naming_it(shapes_dir, tmp_path):
    explanation_set = make_explanation_set("shapes", METHODS, classes=SHAPES, shape=(3, 32, 32))
    study = _create(explanation_set, "shapes", "--data", f"imagefolder:{shapes_dir}")
    from survey.testing import long_csv

    text = long_csv(study, [{"votes": [0] * 24, "checks": [True] * 5}]).replace(",circle,", ",oval,", 1)
    path = tmp_path / "bad.csv"
    path.write_text(text)
    errors = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported") as caught:
        call_command("import_responses", str(path), "--study", study.slug, stdout=io.StringIO(), stderr=errors)
    assert "class_name 'oval' but class 0 of study shapes is 'circle'" in str(caught.value) + errors.getvalue()
    assert not Participant.objects.exists()


def test_the_check_pictures_are_the_data_sets_own_colour_images_at_the_maps_size(shapes_dir):
    from PIL import Image

    from explainers.data import load_data
    from survey import attention

    explanation_set = make_explanation_set("shapes", METHODS, classes=SHAPES, shape=(3, 32, 32))
    study = _create(explanation_set, "shapes", "--data", f"imagefolder:{shapes_dir}")
    map_size = attention.png_size(bytes(explanation_set.maps.first().png))
    typical, _ = attention.class_pictures(load_data(f"imagefolder:{shapes_dir}"))
    for image in StudyImage.objects.filter(study=study, role=StudyImage.Role.CHECK):
        picture = Image.open(io.BytesIO(bytes(image.png))).convert("RGB")
        assert picture.size == map_size
        # Each 32 x 32 pixel is a square of the picture, of the image's own colour.
        scale = map_size[0] // 32
        pixels = np.asarray(picture)[scale // 2 :: scale, scale // 2 :: scale]
        expected = np.round(typical[image.digit].reshape(3, 32, 32).transpose(1, 2, 0) * 255)
        assert np.abs(pixels.astype(int) - expected.astype(int)).max() <= 1


def test_a_data_set_whose_classes_are_not_the_sets_is_refused_in_one_line(shapes_dir):
    explanation_set = make_explanation_set("pets", METHODS, classes=("cat", "dog", "owl"), shape=(3, 32, 32))
    with pytest.raises(CommandError) as caught:
        _create(explanation_set, "pets", "--data", f"imagefolder:{shapes_dir}")
    message = str(caught.value)
    assert "\n" not in message and "its classes [circle, square, triangle] are not explanation set pets's" in message
    assert not Study.objects.exists()


def test_a_set_of_another_data_set_without_data_is_refused_in_one_line():
    explanation_set = make_explanation_set("pets", METHODS, classes=("cat", "dog", "owl"), shape=(3, 32, 32))
    with pytest.raises(CommandError, match=r"explanation set pets is of 3 classes \(cat, dog, owl\.\.\.\), not MNIST"):
        _create(explanation_set, "pets")
    assert not Study.objects.exists()
