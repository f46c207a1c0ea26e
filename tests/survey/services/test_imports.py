"""survey.services.imports: participants who took the study elsewhere, checked by the survey's rules.

The long CSV of export_responses (import_csv) is tested through its command in
tests/survey/commands/test_import_responses.py.
"""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from survey import services
from survey.models import Answer, Item, Participant, SheetEntry, ShownOption
from survey.testing import make_study, mturk_params
from tests.survey.services.common import DIRECT

pytestmark = pytest.mark.django_db


def imported(
    study, imported_id="R_1", params=DIRECT, answered=None, choice=1, **fields
) -> services.ImportedParticipant:
    """Someone who answered the items in number order, each with the option of slot 0 at position 1 and
    so on: choice 1 is a vote for study.methods[0] or a check's correct picture."""
    items = list(Item.objects.filter(study=study).order_by("number"))[:answered]
    t0 = timezone.now() - timedelta(hours=1)
    answers = tuple(
        services.ImportedAnswer(
            position=k,
            item_id=item.pk,
            options=tuple(item.options.order_by("slot").values_list("pk", flat=True)),
            choice=choice,
            shown_at=t0 + timedelta(seconds=10 * k),
            answered_at=t0 + timedelta(seconds=10 * k + 3),
        )
        for k, item in enumerate(items, start=1)
    )
    fields.setdefault("finished", len(answers) == study.n_questions)
    return services.ImportedParticipant(imported_id=imported_id, params=params, answers=answers, **fields)


def test_an_imported_participant_is_recorded_with_their_answers_and_scored(study):
    [participant] = services.import_participants(study, [imported(study)])
    participant.refresh_from_db()
    assert (participant.imported_id, participant.status, participant.checks_passed, participant.passed) == (
        "R_1",
        "finished",
        5,
        True,
    )
    answers = Answer.objects.filter(participant=participant)
    assert set(answers.exclude(method="").values_list("method", flat=True)) == {study.methods[0]}
    assert list(answers.filter(method="").values_list("correct", flat=True)) == [True] * 5
    assert SheetEntry.objects.filter(participant=participant).count() == 25
    assert ShownOption.objects.filter(entry__participant=participant).count() == 100
    assert participant.finished_at - participant.started_at == timedelta(seconds=10 * 25 + 3 - 10)


def test_an_imported_participant_is_scored_by_the_studys_pass_rule(explanation_set):
    strict = make_study(explanation_set, slug="strict", pass_threshold=5)
    person = imported(strict, choice=2)  # position 2 holds a distractor: every check failed
    [participant] = services.import_participants(strict, [person])
    assert (participant.checks_passed, participant.passed) == (0, False)


def test_an_unfinished_imported_participant_has_only_the_answered_questions(study):
    [participant] = services.import_participants(study, [imported(study, answered=3)])
    assert (participant.status, participant.finished_at, participant.passed) == ("started", None, None)
    assert SheetEntry.objects.filter(participant=participant).count() == 3


def test_a_free_public_id_is_kept_and_a_taken_one_replaced(study):
    taken, _ = services.start_participant(study, DIRECT)
    free = uuid.UUID("5b1f4f32-8d3c-4d7e-9a0e-1c2d3e4f5a6b")
    kept, replaced = services.import_participants(
        study, [imported(study, "R_1", public_id=free), imported(study, "R_2", public_id=taken.public_id)]
    )
    assert kept.public_id == free and replaced.public_id not in (free, taken.public_id)


def test_participants_already_in_a_study_are_found_by_imported_or_public_id(study, explanation_set):
    here, _ = services.start_participant(study, DIRECT)
    services.import_participants(study, [imported(study, "R_1")])
    other = make_study(explanation_set, slug="s2")
    services.import_participants(other, [imported(other, "R_2")])
    ids = ["R_2", str(here.public_id), "nobody", "R_1"]
    assert services.already_in_study(study, ids) == [str(here.public_id), "R_1"]


def test_importing_someone_twice_is_refused_and_writes_nothing(study):
    services.import_participants(study, [imported(study, "R_1")])
    with pytest.raises(services.ImportRefused) as excinfo:
        services.import_participants(study, [imported(study, "R_2"), imported(study, "R_1")])
    assert excinfo.value.problems == [(1, "participant R_1: is already in study s1 (imported before?)")]
    assert Participant.objects.count() == 1


def test_every_broken_rule_of_an_import_is_listed_with_the_participant_and_nothing_is_written(study, explanation_set):
    other_item = Item.objects.filter(study=make_study(explanation_set, slug="s2")).first()
    good = imported(study, "R_0")
    stranger = imported(study, "R_3", answered=1)
    stranger = services.ImportedParticipant(
        "R_3",
        DIRECT,
        False,
        (
            services.ImportedAnswer(
                1,
                other_item.pk,
                stranger.answers[0].options,
                1,
                stranger.answers[0].shown_at,
                stranger.answers[0].answered_at,
            ),
        ),
    )
    people = [
        good,
        imported(study, "R_1", answered=24, finished=True),
        imported(study, "R_2", params=mturk_params("W1", "A1")),
        imported(study, "R_4", params=mturk_params("W1", "A2")),
        stranger,
        imported(study, "R_5", answered=2, choice=5),
    ]
    problems = services.check_imported_participants(study, people)
    assert problems == [
        (1, "participant R_1: marked finished but answered 24 of the study's 25 questions"),
        (3, "participant R_4: worker id 'W1' is also participant R_2's"),
        (
            4,
            f"participant R_3: question 1: the options shown are not the 4 options of item {other_item.pk} of study s1",
        ),
        (5, "participant R_5: question 1: choice 5 is not between 1 and 4"),
        (5, "participant R_5: question 2: choice 5 is not between 1 and 4"),
    ]
    with pytest.raises(services.ImportRefused):
        services.import_participants(study, people)
    assert not Participant.objects.exists()


def test_answers_out_of_the_sheets_order_or_an_unmarked_finish_are_refused(study):
    person = imported(study, "R_1", answered=3)
    gap = services.ImportedParticipant("R_1", DIRECT, False, (person.answers[0], person.answers[2]))
    assert services.check_imported_participants(study, [gap]) == [
        (0, "participant R_1: answers must be the positions 1..n in the order shown; position(s) [2] are missing")
    ]
    unmarked = imported(study, "R_2", finished=False)
    assert services.check_imported_participants(study, [unmarked]) == [
        (0, "participant R_2: answered all 25 questions but is not marked finished")
    ]
