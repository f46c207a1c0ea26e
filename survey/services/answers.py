"""Answering: recording a participant's answers, finishing (the pass rule) and the review of the work."""

from __future__ import annotations

import enum
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..models import MAX_OPTIONS, MAX_QUESTIONS, Answer, Item, Participant, SheetEntry, ShownOption, Study
from ..prepared import PreparedQuery
from .errors import InvalidChoice, NotComplete, NotOnSheet, OutOfOrder, SurveyError
from .participation import next_position, unanswered_entries

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnswerResult:
    answer: Answer
    created: bool  # False: this item was answered before and nothing changed
    finished: bool  # the participant has now answered everything
    next_position: int | None


def answer_fields(kind: str, method: str, is_correct: bool) -> dict[str, str | bool | None]:
    """What an answer records of the option chosen: a real question's vote, or whether a check was passed."""
    if kind == Item.Kind.ATTENTION:
        return {"method": "", "correct": is_correct}
    return {"method": method, "correct": None}


def passes_checks(study: Study, checks_passed: int) -> bool:
    """The pass rule: at least the study's threshold of attention checks answered correctly."""
    return checks_passed >= study.pass_threshold


# --- the answer rules, shared by the live path (record_answer) and the import -----------------------


class AnswerRule(enum.StrEnum):
    """The rules an answer can break, in the order :func:`answer_problems` checks them."""

    OPTIONS = "options"  # the options it says were shown are the item's k options (imports)
    CHOICE = "choice"  # the position chosen is one of the k on screen
    SHEET = "sheet"  # the item is the one the sheet has at that position
    ORDER = "order"  # no earlier question of the sheet is still unanswered
    SHOWN = "shown"  # the question was shown
    TIME = "time"  # it was answered after it was shown (imports; here the time is the server's)


_REFUSALS: dict[AnswerRule, type[SurveyError]] = {
    AnswerRule.OPTIONS: NotOnSheet,
    AnswerRule.CHOICE: InvalidChoice,
    AnswerRule.SHEET: NotOnSheet,
    AnswerRule.ORDER: OutOfOrder,
    AnswerRule.SHOWN: OutOfOrder,
    AnswerRule.TIME: OutOfOrder,
}


@dataclass(frozen=True)
class AnswerProblem:
    """One rule an answer breaks, and what the survey says about it."""

    rule: AnswerRule
    message: str

    @property
    def error(self) -> type[SurveyError]:
        """The refusal a participant's request ends in."""
        return _REFUSALS[self.rule]

    def refusal(self) -> SurveyError:
        return self.error(self.message)


def answer_problems(
    *,
    n_options: int,
    position: int,
    item_id: int,
    choice: int,
    sheet_item_id: int | None,
    shown_at: datetime | None,
    answered: bool = False,
    first_open: int | None = None,
    answered_at: datetime | None = None,
    options: Sequence[int] | None = None,
    item_options: Collection[int] = frozenset(),
    study: str = "",
) -> list[AnswerProblem]:
    """Every rule the answer ``choice`` to ``item_id`` at ``position`` breaks, in :class:`AnswerRule` order.

    No database access: the caller looks the facts up. The answer: ``position`` on the sheet,
    ``item_id``, ``choice`` (on-screen position 1..k), and, for an answer given elsewhere,
    ``answered_at`` and ``options`` (the ItemOption ids it says were shown at 1..k; None when the
    survey wrote the sheet itself). The facts: ``n_options`` (k), ``sheet_item_id`` (the item the
    sheet has at ``position``; None: nothing there), ``shown_at`` (None: never shown),
    ``answered`` (the item has an answer already: the first one stands, so the order and the
    time are not checked again), ``first_open`` (the first unanswered position of the sheet, if
    known), ``item_options`` (the ItemOption ids of ``item_id``, to check ``options`` against)
    and ``study`` (the study's slug, for that message).

    An empty list: the answer may be recorded (or, when ``answered``, the first one returned).
    """
    problems: list[AnswerProblem] = []

    def broken(rule: AnswerRule, message: str) -> None:
        problems.append(AnswerProblem(rule, message))

    if options is not None and (set(options) != set(item_options) or len(options) != n_options):
        broken(
            AnswerRule.OPTIONS, f"the options shown are not the {n_options} options of item {item_id} of study {study}"
        )
    if not 1 <= choice <= n_options:
        broken(AnswerRule.CHOICE, f"choice {choice} is not between 1 and {n_options}")
    if sheet_item_id is None or sheet_item_id != item_id:
        broken(AnswerRule.SHEET, f"item {item_id} is not question {position} of this participant's sheet")
    if answered:
        return problems
    if first_open is not None and first_open < position:
        broken(AnswerRule.ORDER, f"question {first_open} comes before question {position}")
    if shown_at is None:
        broken(AnswerRule.SHOWN, f"question {position} was never shown")
    elif answered_at is not None and answered_at < shown_at:
        broken(AnswerRule.TIME, "answered before it was shown")
    return problems


# What the log says of a refused answer (mostly a tampered or replayed form), by the rule it broke.
_REFUSAL_LOG = {
    AnswerRule.CHOICE: "participant %(who)s: choice %(choice)r out of range",
    AnswerRule.SHEET: "participant %(who)s: item %(item)s is not at position %(position)s of the sheet "
    "(tampered or replayed form)",
    AnswerRule.ORDER: "participant %(who)s: answer to question %(position)s while %(first_open)s is unanswered",
    AnswerRule.SHOWN: "participant %(who)s: answer to question %(position)s that was never shown",
}


_lock_participant = PreparedQuery(  # one participant's answers are written one at a time (double submits wait)
    lambda participant_id: (
        Participant.objects.select_for_update().filter(pk=participant_id).order_by().values_list("status")
    ),
    int,
)
_shown_option = PreparedQuery(
    lambda participant_id, position, choice: (
        ShownOption.objects.filter(entry__participant_id=participant_id, entry__position=position, position=choice)
        .annotate(
            earlier_open=Exists(
                SheetEntry.objects.filter(
                    participant_id=OuterRef("entry__participant_id"),
                    position__lt=OuterRef("entry__position"),
                    answer__isnull=True,
                )
            )
        )
        .order_by()
        .values_list(
            "id",
            "entry_id",
            "entry__item_id",
            "entry__item__kind",
            "entry__shown_at",
            "entry__answer__id",
            "entry__answer__position",
            "option__method",
            "option__is_correct",
            "earlier_open",
        )
    ),
    int,
    int,
    int,
)


def record_answer(
    participant: Participant, position: int, item_id: int, choice: int, now: datetime | None = None
) -> AnswerResult:
    """Store the participant's choice (on-screen position 1 to k) for the item at ``position``.

    The first answer to an item counts; sending it again, or another choice, changes nothing.
    The item must be the one the sheet has at ``position`` (a tampered form is refused), it must
    have been shown, and the questions are answered in the sheet's order (the rules are
    :func:`answer_problems`'s). The last answer finishes the participation.
    """
    n_options = participant.study.n_options
    total = participant.study.n_questions
    with transaction.atomic():
        # One participant's answers are written one at a time (double submits wait here).
        # The queries read only the columns they need: compiling SQL is most of a request's CPU.
        ((status,),) = _lock_participant(participant.pk)
        # The option at the chosen position, with its entry, item, any earlier answer and whether
        # an earlier question is still open: one query (not on the sheet: none). Values beyond
        # the columns' ranges are not sent to the database (answer_problems refuses them).
        in_range = 1 <= position <= MAX_QUESTIONS and 1 <= choice <= MAX_OPTIONS
        shown = _shown_option(participant.pk, position, choice) if in_range else []
        (
            shown_id,
            entry_id,
            sheet_item_id,
            kind,
            shown_at,
            answer_id,
            answer_position,
            method,
            is_correct,
            earlier_open,
        ) = shown[0] if shown else (None,) * 10
        first_open = next_position(participant) if earlier_open else None
        problems = answer_problems(
            n_options=n_options,
            position=position,
            item_id=item_id,
            choice=choice,
            sheet_item_id=sheet_item_id,
            shown_at=shown_at,
            answered=answer_id is not None,
            first_open=first_open,
        )
        if problems:
            problem = problems[0]
            logger.warning(
                _REFUSAL_LOG.get(problem.rule, "participant %(who)s: %(message)s"),
                {
                    "who": participant.public_id,
                    "choice": choice,
                    "item": item_id,
                    "position": position,
                    "first_open": first_open,
                    "message": problem.message,
                },
            )
            raise problem.refusal()
        if answer_id is not None:
            if answer_position != choice:
                logger.info(
                    "participant %s: second answer (%s) to question %s ignored; the first (%s) stands",
                    participant.public_id,
                    choice,
                    position,
                    answer_position,
                )
            return AnswerResult(
                Answer.objects.get(pk=answer_id),
                created=False,
                finished=status == Participant.Status.FINISHED,
                next_position=next_position(participant),
            )
        now = max(now or timezone.now(), shown_at)
        answer = Answer.objects.create(
            participant_id=participant.pk,
            item_id=item_id,
            entry_id=entry_id,
            chosen_id=shown_id,
            position=choice,
            **answer_fields(kind, method, is_correct),
            shown_at=shown_at,
            answered_at=now,
        )
        # Answers come in the sheet's order, so the next unanswered question is the next one.
        upcoming = position + 1 if position < total else None
        finished = False
        if upcoming is None:
            finish_participant(participant, now)
            finished = True
    return AnswerResult(answer, created=True, finished=finished, next_position=upcoming)


def finish_participant(participant: Participant, now: datetime | None = None) -> Participant:
    """Mark the participation finished and score its attention checks (idempotent)."""
    with transaction.atomic():
        locked = Participant.objects.select_for_update(of=("self",)).select_related("study").get(pk=participant.pk)
        if locked.is_finished:
            return locked
        unanswered = unanswered_entries(locked.pk).count()
        if unanswered:
            raise NotComplete(f"{unanswered} questions are still unanswered")
        passed_checks = Answer.objects.filter(participant=locked, correct=True).count()
        locked.checks_passed = passed_checks
        locked.passed = passes_checks(locked.study, passed_checks)
        locked.status = Participant.Status.FINISHED
        locked.finished_at = max(now or timezone.now(), locked.started_at)
        locked.save(update_fields=["checks_passed", "passed", "status", "finished_at"])
    logger.info(
        "participant %s finished study %s: %s of %s checks passed",
        locked.public_id,
        locked.study.slug,
        passed_checks,
        locked.study.n_attention_checks,
    )
    return locked


def record_review(participant: Participant, review_status: str, now: datetime | None = None) -> None:
    Participant.objects.filter(pk=participant.pk).update(review_status=review_status, reviewed_at=now or timezone.now())
