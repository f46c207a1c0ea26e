"""Participants who took the study elsewhere: their rules, and the writing, all or nothing."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from django.db import transaction
from django.db.models import Q

from ..models import Answer, ItemOption, Participant, SheetEntry, ShownOption, Study
from .answers import answer_fields, passes_checks
from .errors import ImportRefused, SurveyError
from .participation import EntryParams, _identity_keys, check_new_identity

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportedAnswer:
    """One answer given elsewhere, as the survey would have recorded it here."""

    position: int  # place of the question on the participant's sheet, 1..n
    item_id: int
    options: tuple[int, ...]  # ItemOption ids shown at on-screen positions 1..k
    choice: int  # on-screen position chosen, 1..k
    shown_at: datetime
    answered_at: datetime


@dataclass(frozen=True)
class ImportedParticipant:
    """Someone who took the study elsewhere: who they were there, and their answers."""

    imported_id: str  # their participant id where they took part (kept: a second import is refused)
    params: EntryParams
    finished: bool
    answers: tuple[ImportedAnswer, ...]
    public_id: uuid.UUID | None = None  # kept when no participant has it yet


def already_in_study(study: Study, ids: Sequence[str]) -> list[str]:
    """Those of ``ids`` (in the order given) that are participants of ``study`` already: imported
    under that id before, or -- a file exported from this very study -- their public id."""
    uuids = {}
    for text in ids:
        try:
            uuids[text] = uuid.UUID(text)
        except ValueError:
            pass
    found = Participant.objects.filter(study=study).filter(
        Q(imported_id__in=list(ids)) | Q(public_id__in=list(uuids.values()))
    ).values_list("imported_id", "public_id")
    imported = {imported_id for imported_id, _ in found}
    public = {public_id for _, public_id in found}
    return [text for text in ids if text in imported or uuids.get(text) in public]


def _max_imported_id() -> int:
    return Participant._meta.get_field("imported_id").max_length


def check_imported_participants(study: Study, people: Sequence[ImportedParticipant]) -> list[tuple[int, str]]:
    """Every way ``people`` break the survey's rules, as (index in ``people``, message), in order.

    The rules are the ones the survey enforces as it goes: platform ids, one participation per
    person, questions answered in the sheet's order, each one once, one of its k options
    chosen, finished exactly when all are answered.
    """
    k = study.n_options
    options = {
        pk: (item_id, kind)
        for pk, item_id, kind in ItemOption.objects.filter(item__study=study).values_list("pk", "item_id", "item__kind")
    }
    item_options: dict[int, set[int]] = {}
    for pk, (item_id, _) in options.items():
        item_options.setdefault(item_id, set()).add(pk)
    repeated = set(already_in_study(study, [person.imported_id for person in people]))
    problems: list[tuple[int, str]] = []
    holders: dict[tuple[str, str], str] = {}
    ids: set[str] = set()
    for index, person in enumerate(people):
        who = f"participant {person.imported_id}"

        def bad(message: str) -> None:
            problems.append((index, f"{who}: {message}"))

        if not person.imported_id or len(person.imported_id) > _max_imported_id():
            bad(f"the participant id must have 1 to {_max_imported_id()} characters")
        elif person.imported_id in repeated:
            bad(f"is already in study {study.slug} (imported before?)")
            continue  # the rest would only repeat it (their ids are taken too)
        elif person.imported_id in ids:
            bad("appears twice")
        ids.add(person.imported_id)
        try:
            check_new_identity(study, person.params)
        except SurveyError as exc:
            bad(exc.message)
        for what, value in _identity_keys(person.params):
            if (what, value) in holders:
                bad(f"{what} id {value!r} is also participant {holders[(what, value)]}'s")
            holders.setdefault((what, value), person.imported_id)
        positions = sorted(answer.position for answer in person.answers)
        if not positions:
            bad("has no answers")
            continue
        if positions != list(range(1, len(positions) + 1)):
            missing = sorted(set(range(1, positions[-1] + 1)) - set(positions))
            bad(f"answers must be the positions 1..n in the order shown; position(s) {missing[:5]} are missing"
                if missing else "answers must be the positions 1..n in the order shown; a position appears twice")
        if person.finished and len(positions) != study.n_questions:
            bad(f"marked finished but answered {len(positions)} of the study's {study.n_questions} questions")
        if not person.finished and len(positions) == study.n_questions:
            bad(f"answered all {study.n_questions} questions but is not marked finished")
        items = [answer.item_id for answer in person.answers]
        if len(set(items)) != len(items):
            bad("answers an item twice")
        for answer in person.answers:
            if set(answer.options) != item_options.get(answer.item_id) or len(answer.options) != k:
                bad(f"question {answer.position}: the options shown are not the {k} options of "
                    f"item {answer.item_id} of study {study.slug}")
            elif not 1 <= answer.choice <= k:
                bad(f"question {answer.position}: choice {answer.choice} is not between 1 and {k}")
            elif answer.answered_at < answer.shown_at:
                bad(f"question {answer.position}: answered before it was shown")
    return problems


def import_participants(study: Study, people: Sequence[ImportedParticipant]) -> list[Participant]:
    """Record ``people``, who took ``study``'s questions elsewhere, with their answers: all or nothing.

    Raises :class:`ImportRefused` (nothing written) when :func:`check_imported_participants`
    finds a problem; a concurrent write that takes an id first ends in an IntegrityError, also
    with nothing written. Scores follow this study's pass rule, whatever the file says. Only
    the answered questions get a sheet entry (the rest of an unfinished sheet is unknown).
    """
    problems = check_imported_participants(study, people)
    if problems:
        raise ImportRefused(problems)
    options = dict(
        (pk, (kind, method, is_correct))
        for pk, kind, method, is_correct in ItemOption.objects.filter(item__study=study).values_list(
            "pk", "item__kind", "method", "is_correct"
        )
    )
    wanted = [person.public_id for person in people if person.public_id is not None]
    taken = set(Participant.objects.filter(public_id__in=wanted).values_list("public_id", flat=True))
    participants, entries, shown, answers = [], [], [], []
    plan = []  # (participant index, answer), in the order of entries
    with transaction.atomic():
        for index, person in enumerate(people):
            ordered = sorted(person.answers, key=lambda a: a.position)
            fields = [answer_fields(*options[a.options[a.choice - 1]]) for a in ordered]
            checks = sum(f["correct"] is True for f in fields)
            keep_id = person.public_id is not None and person.public_id not in taken
            params = person.params
            participants.append(Participant(
                study=study, public_id=person.public_id if keep_id else uuid.uuid4(), imported_id=person.imported_id,
                platform=params.platform, worker_id=params.worker_id, assignment_id=params.assignment_id,
                hit_id=params.hit_id, turk_submit_to=params.turk_submit_to, prolific_pid=params.prolific_pid,
                prolific_study_id=params.prolific_study_id, prolific_session_id=params.prolific_session_id,
                sheet_seed=0, started_at=min(a.shown_at for a in ordered),
                status=Participant.Status.FINISHED if person.finished else Participant.Status.STARTED,
                finished_at=max(a.answered_at for a in ordered) if person.finished else None,
                checks_passed=checks if person.finished else None,
                passed=passes_checks(study, checks) if person.finished else None,
            ))
            plan += [(index, answer, f) for answer, f in zip(ordered, fields)]
        Participant.objects.bulk_create(participants)
        entries = SheetEntry.objects.bulk_create(
            [SheetEntry(participant=participants[i], position=a.position, item_id=a.item_id, shown_at=a.shown_at)
             for i, a, _ in plan],
            batch_size=2000,
        )
        shown = ShownOption.objects.bulk_create(
            [ShownOption(entry=entry, position=p, option_id=option)
             for entry, (_, a, _) in zip(entries, plan) for p, option in enumerate(a.options, start=1)],
            batch_size=2000,
        )
        k = study.n_options  # every entry has k shown options, written in order above
        answers = Answer.objects.bulk_create(
            [Answer(participant=participants[i], item_id=a.item_id, entry=entry,
                    chosen=shown[n * k + a.choice - 1], position=a.choice, **f,
                    shown_at=a.shown_at, answered_at=a.answered_at)
             for n, (entry, (i, a, f)) in enumerate(zip(entries, plan))],
            batch_size=2000,
        )
    logger.info("imported %s participants (%s answers) into study %s", len(participants), len(answers), study.slug)
    return participants
