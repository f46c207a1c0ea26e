"""survey.services.answers: recording answers with every rule, finishing, and the pass rule."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from survey import services
from survey.models import Answer, Item, Participant, SheetEntry, ShownOption
from survey.services.answers import AnswerRule, answer_problems
from survey.testing import answer_all, correct_position, make_study, mturk_params
from tests.survey.services.common import SIX

pytestmark = pytest.mark.django_db


# --- answering ------------------------------------------------------------------------------------


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


def test_a_choice_beyond_the_studys_k_is_refused(six_set):
    study = make_study(six_set, methods=SIX[:3])
    participant, _ = services.start_participant(study, mturk_params())
    question = services.show_question(participant, 1)
    with pytest.raises(services.InvalidChoice, match="choice 4 is not between 1 and 3"):
        services.record_answer(participant, 1, question.item_id, 4)
    assert services.record_answer(participant, 1, question.item_id, 3).created


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


def test_an_answer_records_when_it_was_shown_and_answered(study):
    participant, _ = services.start_participant(study, mturk_params())
    start = timezone.now()
    question = services.show_question(participant, 1, now=start)
    answer = services.record_answer(participant, 1, question.item_id, 1, now=start + timedelta(seconds=4.5)).answer
    assert answer.shown_at == start and answer.response_ms == 4500


# --- finishing ------------------------------------------------------------------------------------


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


# --- the rules that answering and importing share -------------------------------------------------


@pytest.mark.parametrize("checks, passed", [(5, True), (4, True), (3, False), (0, False)])
def test_a_participant_passes_with_at_least_the_studys_threshold_of_checks(study, checks, passed):
    assert study.pass_threshold == 4
    assert services.passes_checks(study, checks) is passed


def test_an_answer_to_a_real_question_is_a_vote_and_to_a_check_a_pass_or_fail():
    assert services.answer_fields("real", "lime", False) == {"method": "lime", "correct": None}
    assert services.answer_fields("attention", "", True) == {"method": "", "correct": True}
    assert services.answer_fields("attention", "", False) == {"method": "", "correct": False}


# --- answer_problems: the answer rules themselves, worked out by hand (no database) -----------------

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
# A question of a study of four methods: item 7 sits at position 3 of the sheet, shown at T0.
LIVE = dict(n_options=4, position=3, item_id=7, sheet_item_id=7, shown_at=T0)
# An answer given elsewhere: it says which of item 7's options (ids 70 to 73) were shown.
IMPORTED = dict(
    LIVE, options=(72, 70, 73, 71), item_options={70, 71, 72, 73}, study="s1", answered_at=T0 + timedelta(seconds=4)
)


def _rules(problems):
    return [(p.rule, p.message) for p in problems]


@pytest.mark.parametrize("choice", [1, 2, 3, 4])
def test_a_valid_answer_breaks_no_rule(choice):
    assert answer_problems(choice=choice, **LIVE) == []
    assert answer_problems(choice=choice, **IMPORTED) == []


def test_an_answer_for_an_item_not_on_the_sheet_is_refused_as_not_on_the_sheet():
    [problem] = answer_problems(choice=1, **{**LIVE, "item_id": 8})
    assert (problem.rule, problem.message) == (AnswerRule.SHEET, "item 8 is not question 3 of this participant's sheet")
    assert problem.error is services.NotOnSheet


def test_a_position_with_nothing_on_the_sheet_is_refused_with_the_same_message():
    assert _rules(answer_problems(choice=1, **{**LIVE, "position": 26, "sheet_item_id": None})) == [
        (AnswerRule.SHEET, "item 7 is not question 26 of this participant's sheet"),
    ]


@pytest.mark.parametrize("choice", [0, 5, -1])
def test_a_choice_outside_the_k_positions_comes_first(choice):
    # Live, the sheet has no option at such a position, so nothing is found there either.
    problems = answer_problems(choice=choice, **{**LIVE, "sheet_item_id": None})
    assert _rules(problems) == [
        (AnswerRule.CHOICE, f"choice {choice} is not between 1 and 4"),
        (AnswerRule.SHEET, "item 7 is not question 3 of this participant's sheet"),
    ]
    assert isinstance(problems[0].refusal(), services.InvalidChoice)
    assert problems[0].refusal().message == f"choice {choice} is not between 1 and 4"


def test_the_range_of_choices_is_the_studys_k():
    assert _rules(answer_problems(choice=3, **{**LIVE, "n_options": 2})) == [
        (AnswerRule.CHOICE, "choice 3 is not between 1 and 2"),
    ]


def test_an_earlier_unanswered_question_comes_first():
    problems = answer_problems(choice=1, first_open=2, **LIVE)
    assert _rules(problems) == [(AnswerRule.ORDER, "question 2 comes before question 3")]
    assert problems[0].error is services.OutOfOrder
    assert answer_problems(choice=1, first_open=3, **LIVE) == []  # the first unanswered one is this one


def test_a_question_never_shown_cannot_be_answered_yet():
    problems = answer_problems(choice=1, **{**LIVE, "shown_at": None})
    assert _rules(problems) == [(AnswerRule.SHOWN, "question 3 was never shown")]
    assert problems[0].error is services.OutOfOrder


def test_an_item_answered_before_is_checked_only_as_a_form():
    # The first answer stands: order and time were checked when it was given.
    assert answer_problems(choice=2, answered=True, first_open=1, **{**LIVE, "shown_at": None}) == []
    assert [p.rule for p in answer_problems(choice=9, answered=True, **LIVE)] == [AnswerRule.CHOICE]


def test_an_answer_given_before_its_question_was_shown_is_refused():
    assert _rules(answer_problems(choice=1, **{**IMPORTED, "answered_at": T0 - timedelta(seconds=1)})) == [
        (AnswerRule.TIME, "answered before it was shown"),
    ]
    assert answer_problems(choice=1, **{**IMPORTED, "answered_at": T0}) == []  # at once is fine


@pytest.mark.parametrize("options", [(70, 71, 72), (70, 71, 72, 73, 74), (70, 71, 72, 99), (70, 70, 71, 72)])
def test_the_options_an_answer_says_were_shown_must_be_the_items_k_options(options):
    assert _rules(answer_problems(choice=1, **{**IMPORTED, "options": options})) == [
        (AnswerRule.OPTIONS, "the options shown are not the 4 options of item 7 of study s1"),
    ]


def test_an_item_of_another_study_has_none_of_the_options_shown():
    assert [p.rule for p in answer_problems(choice=1, **{**IMPORTED, "item_options": frozenset()})] == [
        AnswerRule.OPTIONS
    ]


def test_every_broken_rule_is_listed_in_the_order_they_are_checked():
    problems = answer_problems(
        n_options=4,
        position=3,
        item_id=7,
        choice=5,
        sheet_item_id=8,
        shown_at=None,
        first_open=1,
        options=(1, 2),
        item_options={70, 71, 72, 73},
        study="s1",
    )
    assert [p.rule for p in problems] == [
        AnswerRule.OPTIONS,
        AnswerRule.CHOICE,
        AnswerRule.SHEET,
        AnswerRule.ORDER,
        AnswerRule.SHOWN,
    ]
