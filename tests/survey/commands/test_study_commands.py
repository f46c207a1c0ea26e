"""set_study_status and replace_attention_check."""

import io

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from survey import services
from survey.models import Item
from survey.testing import mturk_params

pytestmark = pytest.mark.django_db


def test_a_study_can_be_closed_and_reopened(study):
    out = io.StringIO()
    call_command("set_study_status", study.slug, "closed", stdout=out)
    assert "is now closed" in out.getvalue()
    study.refresh_from_db()
    assert study.status == "closed"
    call_command("set_study_status", study.slug, "open", stdout=io.StringIO())
    study.refresh_from_db()
    assert study.is_open


def test_an_unknown_status_is_refused(study):
    with pytest.raises(CommandError):
        call_command("set_study_status", study.slug, "paused")


def _pictures(tmp_path):
    paths = []
    for shade in (255, 120, 120, 60):
        path = tmp_path / f"p{shade}-{len(paths)}.png"
        Image.new("L", (40, 40), color=shade).save(path)
        paths.append(str(path))
    return paths


def test_an_attention_check_is_replaced_from_picture_files(study, tmp_path):
    correct, *distractors = _pictures(tmp_path)
    out = io.StringIO()
    call_command(
        "replace_attention_check",
        study.slug,
        "22",
        "--digit",
        "6",
        "--correct",
        correct,
        *[arg for d in distractors for arg in ("--distractor", d)],
        stdout=out,
    )
    assert "now asks about the digit 6" in out.getvalue()
    assert Item.objects.get(study=study, number=22).digit == 6


def test_replacing_after_someone_started_is_a_one_line_error(study, tmp_path):
    services.start_participant(study, mturk_params())
    correct, *distractors = _pictures(tmp_path)
    with pytest.raises(CommandError, match="has participants"):
        call_command(
            "replace_attention_check",
            study.slug,
            "22",
            "--digit",
            "6",
            "--correct",
            correct,
            *[arg for d in distractors for arg in ("--distractor", d)],
        )


def test_a_missing_picture_file_is_a_one_line_error(study, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command(
            "replace_attention_check",
            study.slug,
            "22",
            "--digit",
            "6",
            "--correct",
            str(tmp_path / "x.png"),
            "--distractor",
            "a",
            "--distractor",
            "b",
            "--distractor",
            "c",
        )
