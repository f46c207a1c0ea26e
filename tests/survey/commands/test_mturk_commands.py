"""mturk_question_xml, mturk_create_hit and mturk_sync, with botocore's Stubber (no network)."""

import io
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from django.core.management import CommandError, call_command

from survey import services
from survey.models import MTurkHIT, Participant
from survey.platforms import mturk
from survey.testing import answer_all, correct_position, mturk_params

pytestmark = pytest.mark.django_db

BASE = "https://study.example.org"


@pytest.fixture
def stub(monkeypatch):
    """A stubbed MTurk client that every command gets; fails the test on any unexpected call."""
    client = boto3.client(
        "mturk",
        region_name="us-east-1",
        endpoint_url=mturk.ENDPOINTS[False],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stubber = Stubber(client)
    used = []
    monkeypatch.setattr(mturk, "make_client", lambda live=False: used.append(live) or client)
    stubber.used = used  # which marketplace each command asked for
    with stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _hit(hit_id="HIT123", token="t"):
    return {
        "HITId": hit_id,
        "HITTypeId": "TYPE1",
        "MaxAssignments": 100,
        "Reward": "2.00",
        "RequesterAnnotation": token,
        "Expiration": datetime(2030, 1, 1, tzinfo=UTC),
    }


def _run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# --- mturk_question_xml ----------------------------------------------------------------------------


def test_the_question_xml_frames_the_participant_url(study):
    xml = _run("mturk_question_xml", study.slug, "--base-url", BASE)
    assert f"<ExternalURL>{BASE}/s/{study.slug}/</ExternalURL>" in xml


def test_the_question_xml_refuses_a_plain_http_site(study):
    with pytest.raises(CommandError, match="https"):
        _run("mturk_question_xml", study.slug, "--base-url", "http://study.example.org")


def test_the_question_xml_of_an_unknown_study_is_a_one_line_error(db):
    with pytest.raises(CommandError, match="no study"):
        _run("mturk_question_xml", "nope", "--base-url", BASE)


# --- mturk_create_hit ------------------------------------------------------------------------------


def test_creating_a_hit_sends_the_question_reward_and_qualifications_to_the_sandbox(study, stub):
    token = mturk.request_token(study, False, "1")
    stub.add_response(
        "create_hit",
        {"HIT": _hit(token=token)},
        {
            "MaxAssignments": 30,
            "AutoApprovalDelayInSeconds": 3 * 24 * 3600,
            "LifetimeInSeconds": 2 * 3600,
            "AssignmentDurationInSeconds": 45 * 60,
            "Reward": "1.50",
            "Title": ANY,
            "Keywords": ANY,
            "Description": ANY,
            "Question": mturk.external_question_xml(f"{BASE}/s/{study.slug}/"),
            "RequesterAnnotation": token,
            "QualificationRequirements": [
                {
                    "QualificationTypeId": mturk.QUAL_PERCENT_APPROVED,
                    "Comparator": "GreaterThanOrEqualTo",
                    "IntegerValues": [95],
                    "ActionsGuarded": "DiscoverPreviewAndAccept",
                }
            ],
            "UniqueRequestToken": token,
        },
    )
    out = _run(
        "mturk_create_hit",
        study.slug,
        "--base-url",
        BASE,
        "--reward",
        "1.50",
        "--assignments",
        "30",
        "--lifetime-hours",
        "2",
        "--duration-minutes",
        "45",
        "--min-approval-rate",
        "95",
    )
    assert "Created HIT HIT123 in the sandbox" in out
    hit = MTurkHIT.objects.get()
    assert (hit.hit_id, hit.sandbox, hit.unique_request_token, hit.study_id) == ("HIT123", True, token, study.pk)
    assert stub.used == [False]


def test_a_retry_of_the_same_batch_creates_no_second_hit(study, stub):
    stub.add_response("create_hit", {"HIT": _hit()}, None)
    _run("mturk_create_hit", study.slug, "--base-url", BASE)
    out = _run("mturk_create_hit", study.slug, "--base-url", BASE)  # no second create_hit is stubbed
    assert "already exists" in out and MTurkHIT.objects.count() == 1


def test_a_hit_created_but_never_recorded_is_found_by_its_token(study, stub):
    token = mturk.request_token(study, False, "1")
    stub.add_client_error(
        "create_hit", "ServiceFault", "There is already a HIT which exists with the same UniqueRequestToken."
    )
    stub.add_response(
        "list_hits", {"HITs": [_hit("OTHER", "x"), _hit("HIT123", token)], "NumResults": 2}, {"MaxResults": 100}
    )
    out = _run("mturk_create_hit", study.slug, "--base-url", BASE)
    assert "HIT123" in out and MTurkHIT.objects.get().hit_id == "HIT123"


def test_the_live_marketplace_needs_live(study, stub):
    token = mturk.request_token(study, True, "1")
    stub.add_response("create_hit", {"HIT": _hit(token=token)}, None)
    out = _run("mturk_create_hit", study.slug, "--base-url", BASE, "--live")
    assert "live marketplace" in out and stub.used == [True] and not MTurkHIT.objects.get().sandbox


def test_mturk_refusing_the_hit_is_a_one_line_error(study, stub):
    stub.add_client_error("create_hit", "RequestError", "Insufficient funds")
    with pytest.raises(CommandError, match="Insufficient funds"):
        _run("mturk_create_hit", study.slug, "--base-url", BASE)
    assert not MTurkHIT.objects.exists()


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--reward", "free"], "not an amount"),
        (["--base-url", "http://insecure.example"], "https"),
    ],
)
def test_bad_hit_options_are_one_line_errors(study, stub, args, problem):
    with pytest.raises(CommandError, match=problem):
        _run("mturk_create_hit", study.slug, "--base-url", BASE, *args)


def test_a_closed_study_gets_no_hit(study, stub):
    services.set_study_status(study, "closed")
    with pytest.raises(CommandError, match="open it first"):
        _run("mturk_create_hit", study.slug, "--base-url", BASE)


# --- mturk_sync ------------------------------------------------------------------------------------


def _answer_xml(code):
    return (
        "<QuestionFormAnswers><Answer><QuestionIdentifier>completion_code</QuestionIdentifier>"
        f"<FreeText>{code}</FreeText></Answer></QuestionFormAnswers>"
    )


def _worker(study, worker, checks_right):
    participant, _ = services.start_participant(study, mturk_params(worker, f"A-{worker}", "HIT123"))
    seen = []

    def pick(q):
        ok = correct_position(participant, q.position)
        if ok is None:
            return 1
        seen.append(q)
        return ok if len(seen) <= checks_right else ok % 4 + 1

    answer_all(participant, pick=pick)
    participant.refresh_from_db()
    return participant


def _assignment(participant, code=None, worker=None):
    return {
        "AssignmentId": participant.assignment_id,
        "WorkerId": worker or participant.worker_id,
        "HITId": "HIT123",
        "AssignmentStatus": "Submitted",
        "Answer": _answer_xml(code or participant.completion_code),
    }


@pytest.fixture
def hit(study):
    return MTurkHIT.objects.create(
        study=study, hit_id="HIT123", sandbox=True, unique_request_token="tok", max_assignments=10, reward="2.00"
    )


def _list(stub, assignments):
    stub.add_response(
        "list_assignments_for_hit",
        {"Assignments": assignments, "NumResults": len(assignments)},
        {"HITId": "HIT123", "AssignmentStatuses": ["Submitted"], "MaxResults": 100},
    )


def test_sync_approves_those_who_passed_four_of_five_and_reports_the_rest(study, hit, stub):
    good = _worker(study, "GOOD", 4)
    bad = _worker(study, "BAD", 3)
    _list(stub, [_assignment(good), _assignment(bad)])
    stub.add_response("approve_assignment", {}, {"AssignmentId": good.assignment_id, "RequesterFeedback": ANY})
    out = _run("mturk_sync", study.slug)
    assert f"Approved {good.assignment_id}" in out
    assert f"Left {bad.assignment_id}: passed 3 of 5 attention checks (needs 4)" in out
    assert "approved 1, rejected 0, left 1" in out
    assert Participant.objects.get(pk=good.pk).review_status == "approved"
    assert Participant.objects.get(pk=bad.pk).review_status == "pending"


def test_sync_rejects_failed_checks_only_when_asked(study, hit, stub):
    bad = _worker(study, "BAD", 2)
    _list(stub, [_assignment(bad)])
    stub.add_response("reject_assignment", {}, {"AssignmentId": bad.assignment_id, "RequesterFeedback": ANY})
    out = _run("mturk_sync", study.slug, "--reject-failed")
    assert f"Rejected {bad.assignment_id}" in out
    assert Participant.objects.get(pk=bad.pk).review_status == "rejected"


def test_sync_leaves_unfinished_unknown_and_mismatched_assignments_alone(study, hit, stub):
    unfinished, _ = services.start_participant(study, mturk_params("HALF", "A-HALF", "HIT123"))
    answer_all(unfinished, stop_after=3)
    wrong_code = _worker(study, "CODE", 5)
    wrong_worker = _worker(study, "WHO", 5)
    stranger = {
        "AssignmentId": "A-STRANGER",
        "WorkerId": "X",
        "HITId": "HIT123",
        "AssignmentStatus": "Submitted",
        "Answer": _answer_xml("ZZZ"),
    }
    _list(
        stub,
        [
            _assignment(unfinished),
            _assignment(wrong_code, code="NOPE"),
            _assignment(wrong_worker, worker="SOMEONEELSE"),
            stranger,
        ],
    )
    out = _run("mturk_sync", study.slug, "--reject-failed")
    assert "the survey was not finished" in out and "does not match" in out
    assert "differs from the participant's" in out and "no participation recorded" in out
    assert "approved 0, rejected 0, left 4" in out


def test_sync_follows_mturks_pages(study, hit, stub):
    first, second = _worker(study, "ONE", 5), _worker(study, "TWO", 5)
    stub.add_response(
        "list_assignments_for_hit",
        {"Assignments": [_assignment(first)], "NextToken": "p2", "NumResults": 1},
        {"HITId": "HIT123", "AssignmentStatuses": ["Submitted"], "MaxResults": 100},
    )
    stub.add_response("approve_assignment", {}, None)
    stub.add_response(
        "list_assignments_for_hit",
        {"Assignments": [_assignment(second)], "NumResults": 1},
        {"HITId": "HIT123", "AssignmentStatuses": ["Submitted"], "MaxResults": 100, "NextToken": "p2"},
    )
    stub.add_response("approve_assignment", {}, None)
    assert "approved 2" in _run("mturk_sync", study.slug)


def test_one_refused_approval_does_not_stop_the_others(study, hit, stub):
    first, second = _worker(study, "ONE", 5), _worker(study, "TWO", 5)
    _list(stub, [_assignment(first), _assignment(second)])
    stub.add_client_error("approve_assignment", "RequestError", "Assignment not in Submitted state")
    stub.add_response("approve_assignment", {}, None)
    out = _run("mturk_sync", study.slug)
    assert "approved 1, rejected 0, left 1" in out and "MTurk refused" in out


def test_sync_without_a_recorded_hit_is_a_one_line_error(study, stub):
    with pytest.raises(CommandError, match="no sandbox HIT recorded"):
        _run("mturk_sync", study.slug)
