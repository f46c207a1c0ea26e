"""Answering: recording a participant's answers, finishing (the pass rule) and the review of the work."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..models import MAX_QUESTIONS, Answer, Item, Participant, SheetEntry, ShownOption, Study
from ..prepared import PreparedQuery
from .errors import InvalidChoice, NotComplete, NotOnSheet, OutOfOrder
from .participation import next_position

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


_lock_participant = PreparedQuery(  # one participant's answers are written one at a time (double submits wait)
    lambda participant_id: Participant.objects.select_for_update().filter(pk=participant_id).order_by().values_list("status"),
    int,
)
_shown_option = PreparedQuery(
    lambda participant_id, position, choice: ShownOption.objects.filter(
        entry__participant_id=participant_id, entry__position=position, position=choice
    ).annotate(earlier_open=Exists(SheetEntry.objects.filter(
        participant_id=OuterRef("entry__participant_id"), position__lt=OuterRef("entry__position"), answer__isnull=True
    ))).order_by().values_list("id", "entry_id", "entry__item_id", "entry__item__kind", "entry__shown_at", "entry__answer__id",
                    "entry__answer__position", "option__method", "option__is_correct", "earlier_open"),
    int, int, int,
)


def record_answer(
    participant: Participant, position: int, item_id: int, choice: int, now: datetime | None = None
) -> AnswerResult:
    """Store the participant's choice (on-screen position 1 to k) for the item at ``position``.

    The first answer to an item counts; sending it again, or another choice, changes nothing.
    The item must be the one the sheet has at ``position`` (a tampered form is refused), it must
    have been shown, and the questions are answered in the sheet's order. The last answer
    finishes the participation.
    """
    n_options = participant.study.n_options
    if not 1 <= choice <= n_options:
        logger.warning("participant %s: choice %r out of range", participant.public_id, choice)
        raise InvalidChoice(f"choice {choice} is not between 1 and {n_options}")
    total = participant.study.n_questions
    with transaction.atomic():
        # One participant's answers are written one at a time (double submits wait here).
        # The queries read only the columns they need: compiling SQL is most of a request's CPU.
        ((status,),) = _lock_participant(participant.pk)
        # The option at the chosen position, with its entry, item, any earlier answer and whether
        # an earlier question is still open: one query (not on the sheet: none).
        shown = _shown_option(participant.pk, position, choice) if 1 <= position <= MAX_QUESTIONS else []
        if not shown or shown[0][2] != item_id:
            logger.warning("participant %s: item %s is not at position %s of the sheet (tampered or replayed form)",
                           participant.public_id, item_id, position)
            raise NotOnSheet(f"item {item_id} is not question {position} of this participant's sheet")
        shown_id, entry_id, _, kind, shown_at, answer_id, answer_position, method, is_correct, earlier_open = shown[0]
        if answer_id is not None:
            if answer_position != choice:
                logger.info("participant %s: second answer (%s) to question %s ignored; the first (%s) stands",
                            participant.public_id, choice, position, answer_position)
            return AnswerResult(
                Answer.objects.get(pk=answer_id), created=False,
                finished=status == Participant.Status.FINISHED, next_position=next_position(participant),
            )
        if earlier_open:
            expected = next_position(participant)
            logger.warning("participant %s: answer to question %s while %s is unanswered",
                           participant.public_id, position, expected)
            raise OutOfOrder(f"question {expected} comes before question {position}")
        if shown_at is None:
            logger.warning("participant %s: answer to question %s that was never shown", participant.public_id, position)
            raise OutOfOrder(f"question {position} was never shown")
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
        unanswered = SheetEntry.objects.filter(participant=locked, answer__isnull=True).count()
        if unanswered:
            raise NotComplete(f"{unanswered} questions are still unanswered")
        passed_checks = Answer.objects.filter(participant=locked, correct=True).count()
        locked.checks_passed = passed_checks
        locked.passed = passes_checks(locked.study, passed_checks)
        locked.status = Participant.Status.FINISHED
        locked.finished_at = max(now or timezone.now(), locked.started_at)
        locked.save(update_fields=["checks_passed", "passed", "status", "finished_at"])
    logger.info("participant %s finished study %s: %s of %s checks passed", locked.public_id, locked.study.slug,
                passed_checks, locked.study.n_attention_checks)
    return locked


def record_review(participant: Participant, review_status: str, now: datetime | None = None) -> None:
    Participant.objects.filter(pk=participant.pk).update(review_status=review_status, reviewed_at=now or timezone.now())
