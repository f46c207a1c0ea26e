"""survey.services: building studies, starting, answering and finishing, with every rule."""
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from explainers.models import ClassMap
from survey import services
from survey.services import participation
from survey.models import Answer, Item, Participant, SheetEntry, ShownOption, Study, StudyImage
from survey.testing import answer_all, correct_position, fake_pictures, make_explanation_set, make_study, mturk_params

pytestmark = pytest.mark.django_db

PROLIFIC = services.EntryParams(platform="prolific", prolific_pid="5f1a", prolific_study_id="S", prolific_session_id="X")
DIRECT = services.EntryParams(platform="direct")


def _methods_at(participant):
    """{position on screen: Counter of methods} over the participant's real questions."""
    table = {p: Counter() for p in range(1, 5)}
    for position, method in ShownOption.objects.filter(entry__participant=participant, entry__item__kind="real").values_list(
        "position", "option__method"
    ):
        table[position][method] += 1
    return table


# --- building a study -----------------------------------------------------------------------------


def test_a_study_has_every_digit_twice_each_with_the_four_methods(study):
    real = Item.objects.filter(study=study, kind="real")
    assert Counter(real.values_list("digit", flat=True)) == {d: 2 for d in range(10)}
    for item in real:
        assert sorted(item.options.values_list("method", flat=True)) == sorted(study.methods)


def test_a_study_has_five_attention_checks_with_one_correct_picture_of_the_asked_digit(study):
    checks = Item.objects.filter(study=study, kind="attention")
    assert checks.count() == 5
    assert len(set(checks.values_list("digit", flat=True))) == 5
    for check in checks:
        options = list(check.options.select_related("image"))
        correct = [o for o in options if o.is_correct]
        assert len(correct) == 1 and correct[0].image.digit == check.digit
        distractors = [o.image for o in options if not o.is_correct]
        assert all(image.digit != check.digit for image in distractors)
        assert len({image.pk for image in distractors}) == 2  # two of the three are the same picture


def test_a_study_copies_the_maps_so_regenerating_the_set_changes_nothing_shown(study, explanation_set):
    image = StudyImage.objects.get(study=study, role="map", method="lime", digit=3)
    original = bytes(image.png)
    ClassMap.objects.filter(explanation_set=explanation_set).delete()
    image.refresh_from_db()
    assert bytes(image.png) == original and image.class_map is None


def test_a_study_has_the_instructions_example(study):
    assert StudyImage.objects.filter(study=study, role="example", digit=4).count() == 1


def test_a_study_needs_all_forty_maps(explanation_set):
    ClassMap.objects.filter(explanation_set=explanation_set, method="vargrad", digit=7).delete()
    with pytest.raises(services.BadStudyInput, match="vargrad 7"):
        make_study(explanation_set)
    assert not Study.objects.exists()


@pytest.mark.parametrize("counts, problem", [
    ({"n_real_questions": 30}, "multiple of 20"),
    ({"n_attention_checks": 11}, "0 to 10"),
    ({"pass_threshold": 6}, "pass threshold"),
])
def test_impossible_question_counts_are_refused(explanation_set, counts, problem):
    with pytest.raises(services.BadStudyInput, match=problem):
        make_study(explanation_set, **counts)


def test_a_slug_is_used_once(study, explanation_set):
    with pytest.raises(services.BadStudyInput, match="already exists"):
        make_study(explanation_set, slug=study.slug)


def test_forty_real_questions_show_every_digit_four_times(explanation_set):
    study = make_study(explanation_set, slug="long", n_real_questions=40)
    assert Counter(Item.objects.filter(study=study, kind="real").values_list("digit", flat=True)) == {d: 4 for d in range(10)}


def test_the_demo_study_is_created_once_and_open(explanation_set):
    first = services.create_demo_study(explanation_set, pictures=fake_pictures())
    again = services.create_demo_study(explanation_set, pictures=fake_pictures())
    assert first.pk == again.pk and first.slug == "demo" and first.is_open
    assert Study.objects.count() == 1


def test_the_demo_study_stays_with_its_first_explanation_set(explanation_set):
    first = services.create_demo_study(explanation_set, pictures=fake_pictures())
    other = make_explanation_set("other-set")
    assert services.create_demo_study(other, pictures=fake_pictures()).pk == first.pk


def test_a_study_status_can_change(study):
    assert services.set_study_status(study, "closed").status == "closed"
    with pytest.raises(services.BadStudyInput):
        services.set_study_status(study, "paused")


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
    before = list(ShownOption.objects.filter(entry__participant=participant).values_list("entry__item_id", "position", "option_id"))
    Participant.objects.filter(pk=participant.pk).update(sheet_seed=participant.sheet_seed + 1)
    question = services.show_question(participant, 1)
    after = list(ShownOption.objects.filter(entry__participant=participant).values_list("entry__item_id", "position", "option_id"))
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


# --- answering -------------------------------------------------------------------------------------


def test_an_answer_stores_the_method_that_sat_at_the_chosen_position(study):
    participant, _ = services.start_participant(study, mturk_params())
    for result in answer_all(participant, pick=lambda q: 3):
        entry = result.answer.entry
        shown = ShownOption.objects.get(entry=entry, position=3)
        assert result.answer.position == 3
        if entry.item.kind == "real":
            assert result.answer.method == shown.option.method and result.answer.correct is None
        else:
            assert result.answer.method == "" and result.answer.correct == shown.option.is_correct


def test_sending_an_answer_twice_changes_nothing(study):
    participant, _ = services.start_participant(study, mturk_params())
    question = services.show_question(participant, 1)
    first = services.record_answer(participant, 1, question.item_id, 2)
    again = services.record_answer(participant, 1, question.item_id, 2)
    assert first.created and not again.created and again.answer.pk == first.answer.pk
    assert Answer.objects.count() == 1


def test_a_second_different_choice_is_ignored_and_logged(study, caplog):
    participant, _ = services.start_participant(study, mturk_params())
    question = services.show_question(participant, 1)
    services.record_answer(participant, 1, question.item_id, 2)
    result = services.record_answer(participant, 1, question.item_id, 4)
    assert not result.created and Answer.objects.get().position == 2
    assert "ignored" in caplog.text


def test_an_item_that_is_not_at_that_position_of_the_sheet_is_refused(study, caplog):
    participant, _ = services.start_participant(study, mturk_params())
    services.show_question(participant, 1)
    other_item = SheetEntry.objects.get(participant=participant, position=2).item_id
    with pytest.raises(services.NotOnSheet):
        services.record_answer(participant, 1, other_item, 1)
    assert not Answer.objects.exists() and "tampered" in caplog.text


def test_an_item_of_another_participants_study_is_refused(study, explanation_set):
    other = make_study(explanation_set, slug="s2")
    participant, _ = services.start_participant(study, mturk_params())
    services.show_question(participant, 1)
    foreign = Item.objects.filter(study=other).first().pk
    with pytest.raises(services.NotOnSheet):
        services.record_answer(participant, 1, foreign, 1)


def test_a_position_beyond_the_sheet_is_refused(study):
    participant, _ = services.start_participant(study, mturk_params())
    with pytest.raises(services.NotOnSheet):
        services.record_answer(participant, 26, 1, 1)


@pytest.mark.parametrize("choice", [0, 5, -1])
def test_a_choice_outside_the_four_images_is_refused(study, choice):
    participant, _ = services.start_participant(study, mturk_params())
    question = services.show_question(participant, 1)
    with pytest.raises(services.InvalidChoice):
        services.record_answer(participant, 1, question.item_id, choice)
    assert not Answer.objects.exists()


def test_questions_are_answered_in_the_sheets_order(study):
    participant, _ = services.start_participant(study, mturk_params())
    entry = SheetEntry.objects.get(participant=participant, position=3)
    SheetEntry.objects.filter(pk=entry.pk).update(shown_at=timezone.now())
    with pytest.raises(services.OutOfOrder):
        services.record_answer(participant, 3, entry.item_id, 1)


def test_a_question_never_shown_cannot_be_answered(study):
    participant, _ = services.start_participant(study, mturk_params())
    item = SheetEntry.objects.get(participant=participant, position=1).item_id
    with pytest.raises(services.OutOfOrder, match="never shown"):
        services.record_answer(participant, 1, item, 1)


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


def test_an_answer_records_when_it_was_shown_and_answered(study):
    participant, _ = services.start_participant(study, mturk_params())
    start = timezone.now()
    question = services.show_question(participant, 1, now=start)
    answer = services.record_answer(participant, 1, question.item_id, 1, now=start + timedelta(seconds=4.5)).answer
    assert answer.shown_at == start and answer.response_ms == 4500


def test_the_last_answer_finishes_and_scores_the_attention_checks(study):
    participant, _ = services.start_participant(study, mturk_params())
    results = answer_all(participant, pick=lambda q: correct_position(participant, q.position) or 1)
    assert results[-1].finished and results[-1].next_position is None
    participant.refresh_from_db()
    assert participant.status == "finished" and participant.checks_passed == 5 and participant.passed


def test_four_of_five_checks_pass_and_three_do_not(study):
    for worker, right in (("FOUR", 4), ("THREE", 3)):
        participant, _ = services.start_participant(study, mturk_params(worker, worker))
        seen = []

        def pick(q, participant=participant, seen=seen, right=right):
            ok = correct_position(participant, q.position)
            if ok is None:
                return 1
            seen.append(q.position)
            return ok if len(seen) <= right else (ok % 4) + 1

        answer_all(participant, pick=pick)
        participant.refresh_from_db()
        assert participant.checks_passed == right
        assert participant.passed is (right >= 4)


def test_answers_after_finishing_change_nothing(study):
    participant, _ = services.start_participant(study, mturk_params())
    answer_all(participant)
    last = SheetEntry.objects.get(participant=participant, position=25)
    result = services.record_answer(participant, 25, last.item_id, 4)
    assert not result.created and result.finished
    assert Answer.objects.filter(participant=participant).count() == 25


def test_finishing_early_is_refused(study):
    participant, _ = services.start_participant(study, mturk_params())
    answer_all(participant, stop_after=24)
    with pytest.raises(services.NotComplete):
        services.finish_participant(participant)


def test_finishing_twice_changes_nothing(study):
    participant, _ = services.start_participant(study, mturk_params())
    answer_all(participant)
    finished_at = Participant.objects.get().finished_at
    services.finish_participant(participant, now=timezone.now() + timedelta(hours=1))
    assert Participant.objects.get().finished_at == finished_at


# --- attention checks replaced by the researcher ----------------------------------------------------


def _png(shade: int) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (28, 28), color=shade).save(buf, format="PNG")
    return buf.getvalue()


def test_a_researcher_can_replace_an_attention_check(study):
    item = services.replace_attention_check(study, 21, 7, _png(255), [_png(100), _png(100), _png(50)])
    options = list(item.options.select_related("image").order_by("slot"))
    assert item.digit == 7 and [o.is_correct for o in options] == [True, False, False, False]
    assert options[0].image.digit == 7
    # the pictures it replaced are gone (nobody can have seen them)
    assert StudyImage.objects.filter(study=study, role="check", options__isnull=True).count() == 0


def test_replacing_a_check_is_refused_once_anyone_started(study):
    services.start_participant(study, mturk_params())
    with pytest.raises(services.StudyLocked):
        services.replace_attention_check(study, 21, 7, _png(255), [_png(1)] * 3)


def test_replacing_needs_an_attention_check_and_three_readable_distractors(study):
    with pytest.raises(services.BadStudyInput, match="no attention check number 3"):
        services.replace_attention_check(study, 3, 7, _png(255), [_png(9)] * 3)
    with pytest.raises(services.BadStudyInput, match="3 distractor"):
        services.replace_attention_check(study, 21, 7, _png(255), [_png(9)] * 2)
    with pytest.raises(services.BadStudyInput, match="picture"):
        services.replace_attention_check(study, 21, 7, b"junk", [_png(9)] * 3)


# --- the rules that starting, answering and importing share --------------------------------------


@pytest.mark.parametrize("checks, passed", [(5, True), (4, True), (3, False), (0, False)])
def test_a_participant_passes_with_at_least_the_studys_threshold_of_checks(study, checks, passed):
    assert study.pass_threshold == 4
    assert services.passes_checks(study, checks) is passed


def test_an_answer_to_a_real_question_is_a_vote_and_to_a_check_a_pass_or_fail():
    assert services.answer_fields("real", "lime", False) == {"method": "lime", "correct": None}
    assert services.answer_fields("attention", "", True) == {"method": "", "correct": True}
    assert services.answer_fields("attention", "", False) == {"method": "", "correct": False}


@pytest.mark.parametrize("params, message", [
    (services.EntryParams(platform="mturk", worker_id="W1", assignment_id="A1"), "needs worker_id, assignment_id and hit_id"),
    (services.EntryParams(platform="prolific"), "needs prolific_pid"),
    (services.EntryParams(platform="email"), "platform 'email' is not one of mturk, prolific, direct"),
])
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


# --- participants who took the study elsewhere ----------------------------------------------------


def imported(study, imported_id="R_1", params=DIRECT, answered=None, choice=1, **fields) -> services.ImportedParticipant:
    """Someone who answered the items in number order, each with the option of slot 0 at position 1 and
    so on: choice 1 is a vote for study.methods[0] or a check's correct picture."""
    items = list(Item.objects.filter(study=study).order_by("number"))[:answered]
    t0 = timezone.now() - timedelta(hours=1)
    answers = tuple(
        services.ImportedAnswer(position=k, item_id=item.pk, options=tuple(item.options.order_by("slot").values_list("pk", flat=True)),
                                choice=choice, shown_at=t0 + timedelta(seconds=10 * k), answered_at=t0 + timedelta(seconds=10 * k + 3))
        for k, item in enumerate(items, start=1)
    )
    fields.setdefault("finished", len(answers) == study.n_questions)
    return services.ImportedParticipant(imported_id=imported_id, params=params, answers=answers, **fields)


def test_an_imported_participant_is_recorded_with_their_answers_and_scored(study):
    [participant] = services.import_participants(study, [imported(study)])
    participant.refresh_from_db()
    assert (participant.imported_id, participant.status, participant.checks_passed, participant.passed) == ("R_1", "finished", 5, True)
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
        "R_3", DIRECT, False, (services.ImportedAnswer(1, other_item.pk, stranger.answers[0].options, 1,
                                                       stranger.answers[0].shown_at, stranger.answers[0].answered_at),),
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
        (4, f"participant R_3: question 1: the options shown are not the 4 options of item {other_item.pk} of study s1"),
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


# --- the monitor's numbers --------------------------------------------------------------------------


def test_the_summary_counts_participants_votes_and_time(study):
    done, _ = services.start_participant(study, mturk_params("W1", "A1"))
    answer_all(done, pick=lambda q: correct_position(done, q.position) or 1)
    half, _ = services.start_participant(study, mturk_params("W2", "A2"))
    answer_all(half, stop_after=5)
    summary = services.study_summary(study)
    assert (summary.started, summary.finished, summary.passing) == (2, 1, 1)
    assert summary.answers == 30
    assert sum(summary.votes_passing.values()) == 20
    assert sum(summary.votes.values()) == 20 + sum(1 for a in Answer.objects.filter(participant=half) if a.method)
    assert summary.median_minutes is not None and summary.by_platform == {"mturk": 2}


# --- studies of k methods ---------------------------------------------------------------------------

SIX = ("normlime", "lime", "smoothgrad", "vargrad", "shap", "random")


@pytest.fixture
def six_set(db):
    return make_explanation_set("six", SIX)


def test_the_number_of_real_questions_is_a_multiple_of_lcm_10_k_and_defaults_to_the_smallest_from_20():
    assert {k: services.real_question_block(k) for k in range(2, 7)} == {2: 10, 3: 30, 4: 20, 5: 10, 6: 30}
    assert {k: services.default_real_questions(k) for k in range(2, 7)} == {2: 20, 3: 30, 4: 20, 5: 20, 6: 30}


def test_a_study_of_the_papers_four_is_built_as_before(study):
    assert study.methods == ["normlime", "lime", "smoothgrad", "vargrad"] and study.n_options == 4
    assert (study.n_real_questions, study.n_questions) == (20, 25)
    assert "25 sets of four images" in study.consent_text and "about 10 minutes" in study.consent_text


@pytest.mark.parametrize("methods, digits_shown", [(SIX[:2], 2), (SIX[:3], 3), (SIX, 3)])
def test_a_study_of_k_methods_shows_one_map_per_method_in_its_order(six_set, methods, digits_shown):
    study = make_study(six_set, methods=methods)
    k = len(methods)
    assert study.methods == list(methods) and study.n_real_questions == services.default_real_questions(k)
    real = Item.objects.filter(study=study, kind="real")
    assert Counter(real.values_list("digit", flat=True)) == {d: digits_shown for d in range(10)}
    for item in real:
        assert list(item.options.order_by("slot").values_list("method", flat=True)) == list(methods)
    for check in Item.objects.filter(study=study, kind="attention"):
        options = list(check.options.order_by("slot"))
        assert len(options) == k and [o.is_correct for o in options] == [True] + [False] * (k - 1)
    assert f"{study.n_questions} sets of {study.n_options_in_words} images" in study.consent_text


@pytest.mark.parametrize("k", [2, 3, 6])
def test_every_one_of_k_methods_sits_in_every_position_equally_often(six_set, k):
    study = make_study(six_set, methods=SIX[:k])
    for n in range(3):
        participant, _ = services.start_participant(study, mturk_params(f"W{n}", f"A{n}"))
        shown = Counter(ShownOption.objects.filter(entry__participant=participant, entry__item__kind="real")
                        .values_list("position", "option__method"))
        assert shown == {(p, m): study.n_real_questions // k for p in range(1, k + 1) for m in SIX[:k]}
        assert all(len(q) == k for q in [services.show_question(participant, p).option_keys for p in (1, 2, 3)])


@pytest.mark.parametrize("methods, message", [
    (("normlime",), "1 methods (normlime): a study compares 2 to 6"),
    (SIX + ("normlime",), "7 methods"),
    (("normlime", "lime", "normlime"), "method(s) normlime named twice"),
    (("normlime", "gradcam"), "unknown method(s) gradcam (known: "),
    (("normlime", "ig"), "explanation set six lacks the maps ig 0, ig 1, ig 2, ig 3, ig 4 (and 5 more)"),
])
def test_a_study_of_unusable_methods_is_refused_in_one_line(six_set, methods, message):
    with pytest.raises(services.BadStudyInput) as refused:
        make_study(six_set, methods=methods)
    assert message in refused.value.message and "\n" not in refused.value.message
    assert not Study.objects.exists()


@pytest.mark.parametrize("k, n_real, block", [(3, 20, 30), (6, 20, 30), (4, 30, 20), (2, 15, 10)])
def test_a_number_of_questions_that_cannot_balance_k_methods_is_refused(six_set, k, n_real, block):
    with pytest.raises(services.BadStudyInput, match=f"{n_real} real questions: with {k} methods use a multiple of {block}"):
        make_study(six_set, methods=SIX[:k], n_real_questions=n_real)
    assert not Study.objects.exists()


def test_a_study_of_two_methods_takes_ten_real_questions(six_set):
    study = make_study(six_set, methods=SIX[:2], n_real_questions=10)
    assert Item.objects.filter(study=study, kind="real").count() == 10


def test_a_choice_beyond_the_studys_k_is_refused(six_set):
    study = make_study(six_set, methods=SIX[:3])
    participant, _ = services.start_participant(study, mturk_params())
    question = services.show_question(participant, 1)
    with pytest.raises(services.InvalidChoice, match="choice 4 is not between 1 and 3"):
        services.record_answer(participant, 1, question.item_id, 4)
    assert services.record_answer(participant, 1, question.item_id, 3).created


@pytest.mark.parametrize("k", [2, 6])
def test_replacing_an_attention_check_of_k_methods_takes_k_minus_1_distractors(six_set, k):
    study = make_study(six_set, methods=SIX[:k])
    number = study.n_real_questions + 1
    with pytest.raises(services.BadStudyInput, match=f"give {k - 1} distractor pictures, not 3"):
        services.replace_attention_check(study, number, 7, _png(255), [_png(9)] * 3)
    item = services.replace_attention_check(study, number, 7, _png(255), [_png(9)] * (k - 1))
    assert [o.is_correct for o in item.options.order_by("slot")] == [True] + [False] * (k - 1)


def test_the_monitor_counts_the_votes_of_the_studys_methods(six_set):
    study = make_study(six_set, methods=SIX[:3])
    participant, _ = services.start_participant(study, mturk_params())
    answer_all(participant, pick=lambda q: 1)
    summary = services.study_summary(study)
    assert list(summary.votes) == list(SIX[:3]) and sum(summary.votes.values()) == 30
