"""survey.forms: which platform a link is from, and which links are damaged."""

import pytest

from survey.forms import AnswerForm, EntryForm

SANDBOX = "https://workersandbox.mturk.com"
MTURK = {"assignmentId": "3ABC", "hitId": "3HIT", "workerId": "A1WORKER", "turkSubmitTo": SANDBOX}


def _form(**data):
    form = EntryForm(data)
    form.is_valid()
    return form


def test_a_link_with_mturk_parameters_is_an_mturk_participant():
    form = _form(**MTURK)
    assert form.is_valid()
    params = form.params()
    assert (params.platform, params.worker_id, params.assignment_id, params.hit_id, params.turk_submit_to) == (
        "mturk",
        "A1WORKER",
        "3ABC",
        "3HIT",
        SANDBOX,
    )


def test_the_live_site_is_an_accepted_submit_target():
    assert _form(**{**MTURK, "turkSubmitTo": "https://www.mturk.com/"}).is_valid()


def test_a_preview_link_needs_no_worker():
    form = _form(assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", hitId="3HIT")
    assert form.is_valid() and form.is_preview


def test_a_link_with_prolific_parameters_is_a_prolific_participant():
    form = _form(PROLIFIC_PID="5f1a2b", STUDY_ID="st", SESSION_ID="se")
    assert form.is_valid()
    assert form.params() == form.params().__class__(
        platform="prolific", prolific_pid="5f1a2b", prolific_study_id="st", prolific_session_id="se"
    )


def test_a_link_without_parameters_is_a_direct_participant():
    form = _form()
    assert form.is_valid() and form.params().platform == "direct"


@pytest.mark.parametrize(
    "data, problem",
    [
        ({**MTURK, "workerId": ""}, "lacks workerId"),
        ({**MTURK, "turkSubmitTo": ""}, "lacks turkSubmitTo"),
        ({**MTURK, "turkSubmitTo": "https://evil.example.com"}, "not a Mechanical Turk site"),
        ({**MTURK, "turkSubmitTo": "https://www.mturk.com/somewhere"}, "not a Mechanical Turk site"),
        ({**MTURK, "workerId": "<script>"}, "not a valid id"),
        ({**MTURK, "assignmentId": "a" * 65}, "at most 64"),
        ({**MTURK, "PROLIFIC_PID": "5f1a"}, "mixes"),
        ({"STUDY_ID": "st"}, "lacks PROLIFIC_PID"),
        ({"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE"}, "needs hitId"),
    ],
)
def test_a_damaged_or_forged_link_is_refused(data, problem):
    form = _form(**data)
    assert not form.is_valid()
    assert problem in str(form.errors)


def test_an_answer_is_an_item_and_a_position_from_1_to_6():
    """Up to the largest number of options; the study's own k is the service's rule."""
    form = AnswerForm({"item": "12", "choice": "3"})
    assert form.is_valid() and form.cleaned_data == {"item": 12, "choice": 3}
    assert AnswerForm({"item": "12", "choice": "6"}).is_valid()
    assert not AnswerForm({"item": "12", "choice": "7"}).is_valid()
    assert not AnswerForm({"item": "12", "choice": "0"}).is_valid()
    assert not AnswerForm({"item": "x", "choice": "1"}).is_valid()
    missing = AnswerForm({"item": "12"})
    assert not missing.is_valid() and missing.only_choice_missing
