"""Participants by kind: pilot previews, deleting pilot and simulated participants, the Prolific id lists,
and the monitor counting real participants only."""

import pytest

from survey import services
from survey.models import Answer, Participant, SheetEntry, ShownOption, Study
from survey.testing import answer_all, correct_position, make_study

pytestmark = pytest.mark.django_db


def _prolific(pid: str) -> services.EntryParams:
    return services.EntryParams(platform=Participant.Platform.PROLIFIC, prolific_pid=pid)


def _finish(participant: Participant, checks_right: bool = True) -> Participant:
    def pick(q: services.Question) -> int:
        right = correct_position(participant, q.position)
        if right is None:
            return 1
        return right if checks_right else right % 4 + 1

    answer_all(participant, pick)
    participant.refresh_from_db()
    return participant


def _simulated(study: Study) -> Participant:
    participant, _ = services.start_participant(study, services.EntryParams(platform="direct"))
    Participant.objects.filter(pk=participant.pk).update(kind=Participant.Kind.SIMULATED)
    participant.refresh_from_db()
    return participant


# --- pilots -----------------------------------------------------------------------------------------


def test_a_pilot_is_a_direct_participant_of_kind_pilot_with_a_full_sheet(study):
    pilot = services.start_pilot(study)
    assert (pilot.kind, pilot.platform, pilot.external_id) == ("pilot", "direct", str(pilot.public_id))
    assert SheetEntry.objects.filter(participant=pilot).count() == 25
    assert ShownOption.objects.filter(entry__participant=pilot).count() == 100


def test_a_draft_study_that_takes_no_direct_links_can_still_be_piloted_to_the_end(explanation_set):
    study = make_study(explanation_set, slug="draft", status=Study.Status.DRAFT, accept_direct=False)
    pilot = _finish(services.start_pilot(study))
    assert pilot.is_finished and pilot.checks_passed == 5 and pilot.passed is True


def test_a_closed_study_takes_no_pilot(study):
    services.set_study_status(study, Study.Status.CLOSED)
    with pytest.raises(services.StudyNotOpen, match="closed"):
        services.start_pilot(study)
    assert not Participant.objects.exists()


def test_a_real_participant_is_still_refused_by_a_draft_study(explanation_set):
    study = make_study(explanation_set, slug="draft", status=Study.Status.DRAFT)
    with pytest.raises(services.StudyNotOpen):
        services.start_participant(study, services.EntryParams(platform="direct"))


# --- the monitor's numbers ------------------------------------------------------------------------


def test_the_summary_counts_real_participants_and_shows_the_others_apart(study):
    _finish(services.start_participant(study, services.EntryParams(platform="direct"))[0])
    _finish(services.start_pilot(study))
    services.start_pilot(study)
    _finish(_simulated(study))
    summary = services.study_summary(study)
    assert (summary.started, summary.finished, summary.passing, summary.answers) == (1, 1, 1, 25)
    assert sum(summary.votes.values()) == 20 and summary.by_platform == {"direct": 1}
    assert summary.not_counted == {"pilot": 2, "simulated": 1}


# --- deleting -----------------------------------------------------------------------------------------


def test_deleting_pilots_removes_them_with_everything_of_theirs_and_leaves_the_rest(study):
    real = _finish(services.start_participant(study, services.EntryParams(platform="direct"))[0])
    _finish(services.start_pilot(study))
    services.start_pilot(study)
    simulated = _finish(_simulated(study))
    assert services.delete_participants(study, ["pilot"]) == {"pilot": 2}
    assert set(Participant.objects.values_list("pk", flat=True)) == {real.pk, simulated.pk}
    assert Answer.objects.count() == 50 and SheetEntry.objects.count() == 50 and ShownOption.objects.count() == 200


def test_deleting_both_kinds_counts_each(study):
    services.start_pilot(study)
    _simulated(study)
    _simulated(study)
    assert services.delete_participants(study, ["pilot", "simulated"]) == {"pilot": 1, "simulated": 2}
    assert not Participant.objects.exists()


def test_deleting_keeps_to_its_study(study, explanation_set):
    other = make_study(explanation_set, slug="other")
    kept = services.start_pilot(other)
    services.start_pilot(study)
    assert services.delete_participants(study, ["pilot"]) == {"pilot": 1}
    assert list(Participant.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.parametrize("kinds", [["real"], ["pilot", "real"], ["robot"], []])
def test_real_or_unknown_kinds_are_refused_and_nothing_is_deleted(study, kinds):
    services.start_pilot(study)
    services.start_participant(study, services.EntryParams(platform="direct"))
    with pytest.raises(services.DeletionRefused):
        services.delete_participants(study, kinds)
    assert Participant.objects.count() == 2


def test_only_the_participants_named_are_deleted(study):
    first = services.start_pilot(study)
    second = services.start_pilot(study)
    assert services.delete_participants(study, ["pilot"], only={first.pk}) == {"pilot": 1}
    assert list(Participant.objects.values_list("pk", flat=True)) == [second.pk]


# --- the Prolific lists -----------------------------------------------------------------------------


@pytest.fixture
def prolific_study(explanation_set):
    study = make_study(explanation_set, slug="prolific", accept_prolific=True, prolific_completion_code="C0DE")
    _finish(services.start_participant(study, _prolific("PASSED1"))[0])
    _finish(services.start_participant(study, _prolific("FAILED1"))[0], checks_right=False)
    _finish(services.start_participant(study, _prolific("PASSED2"))[0])
    services.start_participant(study, _prolific("UNFINISHED"))
    simulated, _ = services.start_participant(study, _prolific("SIMULATED"))
    Participant.objects.filter(pk=_finish(simulated).pk).update(kind=Participant.Kind.SIMULATED)
    _finish(services.start_participant(study, services.EntryParams(platform="direct"))[0])
    return study


def test_the_passed_list_has_the_finished_real_prolific_participants_who_passed_in_finishing_order(prolific_study):
    assert services.prolific_ids(prolific_study, passed=True) == ["PASSED1", "PASSED2"]


def test_the_failed_list_has_those_who_failed_the_checks(prolific_study):
    assert services.prolific_ids(prolific_study, passed=False) == ["FAILED1"]
