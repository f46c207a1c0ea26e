"""survey.models: the database itself refuses what the rules forbid (constraints, not just code)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from survey import services
from survey.models import Answer, Item, ItemOption, Participant, SheetEntry, ShownOption, Study, StudyImage
from survey.testing import answer_all, make_study, mturk_params

pytestmark = pytest.mark.django_db


def _participant(study, **fields):
    defaults = dict(
        study=study,
        platform="mturk",
        worker_id="W",
        assignment_id="A",
        hit_id="H",
        sheet_seed=1,
        started_at=timezone.now(),
    )
    defaults.update(fields)
    return Participant.objects.create(**defaults)


def test_a_worker_takes_part_in_a_study_only_once(study):
    _participant(study)
    with pytest.raises(IntegrityError), transaction.atomic():
        _participant(study, assignment_id="A2")


def test_the_same_worker_may_take_part_in_another_study(study, explanation_set):
    other = make_study(explanation_set, slug="s2")
    _participant(study)
    _participant(other, assignment_id="A2")
    assert Participant.objects.filter(worker_id="W").count() == 2


def test_an_assignment_belongs_to_one_participant(study):
    _participant(study)
    with pytest.raises(IntegrityError), transaction.atomic():
        _participant(study, worker_id="W2")


def test_a_prolific_participant_takes_part_only_once(study):
    _participant(study, platform="prolific", worker_id="", assignment_id="", hit_id="", prolific_pid="P1")
    with pytest.raises(IntegrityError), transaction.atomic():
        _participant(study, platform="prolific", worker_id="", assignment_id="", hit_id="", prolific_pid="P1")


def test_direct_link_participants_need_no_platform_id(study):
    for _ in range(2):
        _participant(study, platform="direct", worker_id="", assignment_id="", hit_id="")
    assert Participant.objects.filter(platform="direct").count() == 2


def test_an_imported_id_is_held_by_one_participant_of_a_study(study, explanation_set):
    direct = dict(platform="direct", worker_id="", assignment_id="", hit_id="")
    _participant(study, imported_id="R_1", **direct)
    _participant(make_study(explanation_set, slug="s2"), imported_id="R_1", **direct)  # another study: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        _participant(study, imported_id="R_1", **direct)


def test_participants_who_took_the_survey_here_have_no_imported_id(study):
    for _ in range(2):
        _participant(study, platform="direct", worker_id="", assignment_id="", hit_id="")
    assert list(Participant.objects.values_list("imported_id", flat=True)) == ["", ""]


def test_an_mturk_participant_without_a_worker_id_is_refused(study):
    with pytest.raises(IntegrityError), transaction.atomic():
        _participant(study, worker_id="")


def test_a_prolific_participant_without_a_pid_is_refused(study):
    with pytest.raises(IntegrityError), transaction.atomic():
        _participant(study, platform="prolific", worker_id="", assignment_id="", hit_id="")


def test_finished_means_a_finish_time_and_a_score(study):
    with pytest.raises(IntegrityError), transaction.atomic():
        _participant(study, status="finished")


def test_an_unknown_platform_is_refused(study):
    with pytest.raises(IntegrityError), transaction.atomic():
        _participant(study, platform="email")


@pytest.mark.parametrize("n_real", [1, 191])
def test_a_study_keeps_its_real_questions_between_two_and_190(study, n_real):
    """The multiple (lcm(classes, k), see services.real_question_block) is the service's rule: it depends on the set."""
    with pytest.raises(IntegrityError), transaction.atomic():
        Study.objects.filter(pk=study.pk).update(n_real_questions=n_real)
    Study.objects.filter(pk=study.pk).update(n_real_questions=25)  # not a multiple of 10: fine for other sets


def test_the_pass_threshold_cannot_exceed_the_number_of_checks(study):
    with pytest.raises(IntegrityError), transaction.atomic():
        Study.objects.filter(pk=study.pk).update(pass_threshold=6)


def test_accepting_prolific_needs_a_completion_code(study):
    with pytest.raises(IntegrityError), transaction.atomic():
        Study.objects.filter(pk=study.pk).update(accept_prolific=True, prolific_completion_code="")


def test_an_attention_check_has_one_correct_option(study):
    check = Item.objects.filter(study=study, kind="attention").first()
    with pytest.raises(IntegrityError), transaction.atomic():
        ItemOption.objects.filter(item=check).update(is_correct=True)


def test_a_map_image_must_name_its_method(study):
    with pytest.raises(IntegrityError), transaction.atomic():
        StudyImage.objects.create(study=study, role="map", method="", digit=1, png=b"x")


def test_an_item_is_answered_once_per_participant(study):
    participant, _ = services.start_participant(study, mturk_params())
    first = answer_all(participant, stop_after=1)[0].answer
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.create(
            participant=participant,
            item=first.item,
            entry=first.entry,
            chosen=first.chosen,
            position=2,
            method=first.method,
            correct=first.correct,
            shown_at=first.shown_at,
            answered_at=first.answered_at,
        )


def test_an_answer_cannot_come_before_its_question_was_shown(study):
    participant, _ = services.start_participant(study, mturk_params())
    answer = answer_all(participant, stop_after=1)[0].answer
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.filter(pk=answer.pk).update(answered_at=answer.shown_at - timedelta(seconds=1))


def test_an_answer_position_outside_1_to_6_is_refused(study):
    participant, _ = services.start_participant(study, mturk_params())
    answer = answer_all(participant, stop_after=1)[0].answer
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.filter(pk=answer.pk).update(position=7)
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.filter(pk=answer.pk).update(position=0)


def test_a_sheet_holds_an_item_once_and_a_position_once(study):
    participant, _ = services.start_participant(study, mturk_params())
    entry = SheetEntry.objects.filter(participant=participant).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        SheetEntry.objects.create(participant=participant, position=26, item=entry.item)
    with pytest.raises(IntegrityError), transaction.atomic():
        SheetEntry.objects.create(participant=participant, position=entry.position, item=entry.item)


def test_an_option_is_shown_once_per_question(study):
    participant, _ = services.start_participant(study, mturk_params())
    shown = ShownOption.objects.filter(entry__participant=participant).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        ShownOption.objects.create(entry=shown.entry, position=4 if shown.position != 4 else 3, option=shown.option)


def test_a_participant_is_described_by_platform_and_id(study):
    participant = _participant(study)
    assert str(participant) == "mturk:W"
    assert participant.duration_seconds is None
