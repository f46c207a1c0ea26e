"""prolific_ids: one Prolific id a line, of the finished real participants who passed (or failed) the checks."""

import io

import pytest
from django.core.management import CommandError, call_command

from survey import services
from survey.models import Participant
from survey.testing import answer_all, correct_position, make_study

pytestmark = pytest.mark.django_db


def _pick(participant, question, right: bool) -> int:
    correct = correct_position(participant, question.position)
    if correct is None:
        return 1
    return correct if right else correct % 4 + 1


@pytest.fixture
def prolific_study(explanation_set):
    study = make_study(explanation_set, slug="p1", accept_prolific=True, prolific_completion_code="C0DE")
    for pid, right in [("AAA", True), ("BBB", False), ("CCC", True)]:
        participant, _ = services.start_participant(
            study, services.EntryParams(platform=Participant.Platform.PROLIFIC, prolific_pid=pid)
        )
        answer_all(participant, lambda q, p=participant, r=right: _pick(p, q, r))
    return study


def test_the_passed_list_is_one_id_a_line_with_no_header(prolific_study):
    out = io.StringIO()
    call_command("prolific_ids", prolific_study.slug, "--passed", stdout=out)
    assert out.getvalue() == "AAA\nCCC\n"


def test_the_failed_list_goes_to_a_file_and_the_command_says_so(prolific_study, tmp_path):
    out = io.StringIO()
    path = tmp_path / "failed.txt"
    call_command("prolific_ids", prolific_study.slug, "--failed", "-o", str(path), stdout=out)
    assert path.read_text() == "BBB\n"
    assert f"Wrote 1 Prolific ids (failed) of p1 to {path}." in out.getvalue()


def test_passed_or_failed_must_be_chosen(prolific_study):
    with pytest.raises(CommandError, match="one of the arguments --passed --failed is required"):
        call_command("prolific_ids", prolific_study.slug)


def test_a_folder_that_does_not_exist_is_a_one_line_error(prolific_study, tmp_path):
    with pytest.raises(CommandError, match="cannot write"):
        call_command("prolific_ids", prolific_study.slug, "--passed", "-o", str(tmp_path / "no" / "x.txt"))
