"""survey.services.participation: who a participant is, starting (the sheet), and the questions shown."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from survey import services
from survey.models import Answer, Participant, SheetEntry, ShownOption, Study
from survey.services import participation
from survey.testing import answer_all, make_study, mturk_params
from tests.survey.services.common import DIRECT, PROLIFIC, SIX

pytestmark = pytest.mark.django_db


def _methods_at(participant):
    """{position on screen: Counter of methods} over the participant's real questions."""
    table = {p: Counter() for p in range(1, 5)}
    for position, method in ShownOption.objects.filter(
        entry__participant=participant, entry__item__kind="real"
    ).values_list("position", "option__method"):
        table[position][method] += 1
    return table


# --- starting -------------------------------------------------------------------------------------


def test_starting_writes_a_sheet_of_25_questions(study):
    participant, created = services.start_participant(study, mturk_params(), "Mozilla/5.0 test")
    assert created and participant.user_agent == "Mozilla/5.0 test"
    assert SheetEntry.objects.filter(participant=participant).count() == 25
    assert ShownOption.objects.filter(entry__participant=participant).count() == 100


def test_every_method_sits_in_every_position_five_times(study):
    for n in range(5):
        participant, _ = services.start_participant(study, mturk_params(f"W{n}", f"A{n}"))
        assert _methods_at(participant) == {p: Counter({m: 5 for m in study.methods}) for p in range(1, 5)}


def test_each_participant_gets_their_own_random_order(study):
    orders = set()
    for n in range(5):
        participant, _ = services.start_participant(study, mturk_params(f"W{n}", f"A{n}"))
        orders.add(tuple(participant.sheet.order_by("position").values_list("item_id", flat=True)))
    assert len(orders) == 5


def test_the_sheet_is_stored_not_recomputed(study):
    participant, _ = services.start_participant(study, mturk_params())
    before = list(
        ShownOption.objects.filter(entry__participant=participant).values_list(
            "entry__item_id", "position", "option_id"
        )
    )
    Participant.objects.filter(pk=participant.pk).update(sheet_seed=participant.sheet_seed + 1)
    question = services.show_question(participant, 1)
    after = list(
        ShownOption.objects.filter(entry__participant=participant).values_list(
            "entry__item_id", "position", "option_id"
        )
    )
    assert before == after
    assert question.item_id == SheetEntry.objects.get(participant=participant, position=1).item_id


def test_a_sheet_is_written_only_from_integers_since_its_values_are_sql_literals(study):
    participant, _ = services.start_participant(study, mturk_params())
    with pytest.raises(ValueError):
        participation._insert_sheet(participant.pk, [(26, "1); DROP TABLE survey_answer; --")], [(26, 1, 1)])
    assert not SheetEntry.objects.filter(participant=participant, position=26).exists()
    assert Answer.objects.count() == 0  # the table is still there


def test_a_returning_worker_resumes_their_participation(study):
    participant, _ = services.start_participant(study, mturk_params())
    answer_all(participant, stop_after=3)
    again, created = services.start_participant(study, mturk_params())
    assert not created and again.pk == participant.pk
    assert services.next_position(again) == 4


def test_a_worker_who_finished_cannot_start_again(study):
    participant, _ = services.start_participant(study, mturk_params())
    answer_all(participant)
    with pytest.raises(services.AlreadyTookPart):
        services.start_participant(study, mturk_params(assignment="ASSIGN2"))
    assert Participant.objects.count() == 1


def test_a_worker_back_through_a_new_assignment_continues_under_it(study):
    participant, _ = services.start_participant(study, mturk_params())
    answer_all(participant, stop_after=2)
    again, _ = services.start_participant(study, mturk_params(assignment="ASSIGN2", hit="HIT2"))
    assert again.pk == participant.pk and (again.assignment_id, again.hit_id) == ("ASSIGN2", "HIT2")
    assert Answer.objects.filter(participant=participant).count() == 2


def test_another_workers_assignment_is_refused(study):
    services.start_participant(study, mturk_params("W1", "A1"))
    with pytest.raises(services.AssignmentTaken):
        services.start_participant(study, mturk_params("W2", "A1"))
    assert Participant.objects.count() == 1


def test_a_prolific_participant_takes_part_once(study):
    Study.objects.filter(pk=study.pk).update(accept_prolific=True, prolific_completion_code="C0DE")
    study.refresh_from_db()
    first, _ = services.start_participant(study, PROLIFIC)
    again, created = services.start_participant(study, PROLIFIC)
    assert not created and again.pk == first.pk


def test_each_direct_link_visit_is_a_new_participant_with_its_own_code(study):
    a, _ = services.start_participant(study, DIRECT)
    b, _ = services.start_participant(study, DIRECT)
    assert a.pk != b.pk and a.completion_code != b.completion_code


@pytest.mark.parametrize("status", ["draft", "closed"])
def test_a_study_that_is_not_open_takes_nobody(study, status):
    services.set_study_status(study, status)
    with pytest.raises(services.StudyNotOpen):
        services.start_participant(study, mturk_params())


def test_a_platform_the_study_does_not_accept_is_refused(study):
    with pytest.raises(services.PlatformNotAccepted):
        services.start_participant(study, PROLIFIC)


# --- identities: the rules that starting and importing share --------------------------------------


@pytest.mark.parametrize(
    "params, message",
    [
        (
            services.EntryParams(platform="mturk", worker_id="W1", assignment_id="A1"),
            "needs worker_id, assignment_id and hit_id",
        ),
        (services.EntryParams(platform="prolific"), "needs prolific_pid"),
        (services.EntryParams(platform="email"), "platform 'email' is not one of mturk, prolific, direct"),
    ],
)
def test_a_platform_participant_needs_the_platforms_ids(study, params, message):
    Study.objects.filter(pk=study.pk).update(accept_prolific=True, prolific_completion_code="C0DE")
    study.refresh_from_db()
    with pytest.raises(services.MissingIdentity, match=message):
        services.check_identity(params)
    with pytest.raises(services.MissingIdentity, match=message):
        services.start_participant(study, params)
    assert not Participant.objects.exists()


def test_a_new_identity_is_one_that_has_not_taken_part(study, explanation_set):
    Study.objects.filter(pk=study.pk).update(accept_prolific=True, prolific_completion_code="C0DE")
    study.refresh_from_db()
    services.start_participant(study, mturk_params("W1", "A1"))
    services.start_participant(study, PROLIFIC)
    with pytest.raises(services.AlreadyTookPart, match="worker 'W1' already took part in study s1"):
        services.check_new_identity(study, mturk_params("W1", "A2"))
    with pytest.raises(services.AlreadyTookPart, match="Prolific participant '5f1a' already took part"):
        services.check_new_identity(study, PROLIFIC)
    other = make_study(explanation_set, slug="s2")
    with pytest.raises(services.AssignmentTaken, match="assignment 'A1' is already a participant's"):
        services.check_new_identity(other, mturk_params("W1", "A1"))
    services.check_new_identity(other, mturk_params("W1", "A2"))  # the same worker in another study
    services.check_new_identity(study, DIRECT)  # a direct link is never recognised


# --- the questions shown --------------------------------------------------------------------------


def test_showing_a_question_again_keeps_the_first_time_it_was_shown(study):
    participant, _ = services.start_participant(study, mturk_params())
    start = timezone.now()
    services.show_question(participant, 1, now=start)
    services.show_question(participant, 1, now=start + timedelta(minutes=5))
    assert SheetEntry.objects.get(participant=participant, position=1).shown_at == start


def test_the_current_question_is_the_first_unanswered_one_and_is_marked_shown(study):
    participant, _ = services.start_participant(study, mturk_params())
    answer_all(participant, stop_after=2)
    question = services.current_question(participant)
    entry = SheetEntry.objects.get(participant=participant, position=3)
    assert (question.position, question.item_id, question.total) == (3, entry.item_id, 25)
    assert len(question.option_keys) == 4 and entry.shown_at is not None
    answer_all(participant)
    assert services.current_question(participant) is None


@pytest.mark.parametrize("k", [2, 3, 6])
def test_every_one_of_k_methods_sits_in_every_position_equally_often(six_set, k):
    study = make_study(six_set, methods=SIX[:k])
    for n in range(3):
        participant, _ = services.start_participant(study, mturk_params(f"W{n}", f"A{n}"))
        shown = Counter(
            ShownOption.objects.filter(entry__participant=participant, entry__item__kind="real").values_list(
                "position", "option__method"
            )
        )
        assert shown == {(p, m): study.n_real_questions // k for p in range(1, k + 1) for m in SIX[:k]}
        assert all(len(q) == k for q in [services.show_question(participant, p).option_keys for p in (1, 2, 3)])
