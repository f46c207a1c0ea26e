"""survey.services.errors: what a refusal says, and the HTTP status a view answers it with."""

import pytest

from survey import services


@pytest.mark.parametrize(
    "error, status",
    [
        (services.SurveyError, 400),
        (services.BadStudyInput, 400),
        (services.NotOnSheet, 400),
        (services.InvalidChoice, 400),
        (services.StudyNotOpen, 403),
        (services.AlreadyTookPart, 403),
        (services.OutOfOrder, 409),
        (services.NotComplete, 409),
        (services.AssignmentTaken, 409),
    ],
)
def test_a_refusal_keeps_its_message_and_says_its_status(error, status):
    refusal = error("question 2 comes before question 3")
    assert isinstance(refusal, services.SurveyError) and error.status == status
    assert refusal.message == str(refusal) == "question 2 comes before question 3"


def test_a_refused_import_says_its_first_problem_and_how_many_more():
    one = services.ImportRefused([(0, "participant R_1: has no answers")])
    assert one.message == "participant R_1: has no answers"
    three = services.ImportRefused([(2, "participant R_3: appears twice"), (0, "a"), (1, "b")])
    assert three.message == "participant R_3: appears twice (and 2 more)" and three.problems[1] == (0, "a")


def test_a_failed_file_lists_its_errors_by_line_and_counts_those_left_out():
    failed = services.ImportFailed(
        [services.RowError(7, "digit 3 but ..."), services.RowError(2, "participant is empty")], more=3
    )
    assert [error.line for error in failed.errors] == [2, 7]
    assert str(failed) == "line 2: participant is empty (and 4 more errors)"
    assert str(services.ImportFailed([services.RowError(1, "the file is empty")])) == "line 1: the file is empty"
