"""Participants who took the study elsewhere: the survey's rules for them, and their import, all or nothing.

For studies run elsewhere (another copy of this platform, or another platform writing the same
columns). Two layers:

* :func:`import_participants` records :class:`ImportedParticipant` s with their answers, after
  :func:`check_imported_participants` has applied the survey's rules (platform ids, one
  participation per person, the questions answered in order, each once; each answer checked by
  :func:`~survey.services.answers.answer_problems`, as a live one is); what an answer records
  and the pass rule are the live path's too.
* :func:`import_csv` reads the long CSV format of :mod:`survey.export` into those: the rows become
  participants, sheet entries, shown options and answers of an existing study with the same
  questions (same item numbers, kinds and digits -- a study created from the same explanation set
  with the same seed has them).

What the file does not say, and how it is filled in:

* The sheet: only the items a participant answered get a sheet entry, at the position the file
  records (an unfinished participant's unanswered questions are unknown, so they have none).
* Attention checks: the file records where the correct picture sat; the k - 1 distractors are
  placed on the remaining positions in their canonical slot order.
* The number of options: the file must have ``method_at_1`` .. ``method_at_k`` for the target
  study's k; further ``method_at_*`` columns are accepted only if empty (a file written for a
  study of more methods cannot fit this one).
* ``started_at`` is the first ``shown_at``, ``finished_at`` the last ``answered_at``; the sheet
  seed is 0 and the user agent empty. A participant id that is a UUID not yet used is kept;
  otherwise the participant gets a new one (counted in the result). The file's id is kept as
  ``Participant.imported_id``, so importing the file again is refused.
* ``participant_passed`` is recomputed against *this* study's pass threshold.

Every row is checked before anything is written; errors name the line (header = line 1) and
say what is wrong. Nothing is written unless the whole file is valid (one transaction).
"""

from __future__ import annotations

import csv
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from django.db import IntegrityError, transaction
from django.db.models import Q

from .. import export
from ..models import Answer, Item, ItemOption, Participant, SheetEntry, ShownOption, Study
from .answers import answer_fields, answer_problems, passes_checks
from .errors import ImportFailed, ImportRefused, RowError, SurveyError
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
    kind: str = Participant.Kind.REAL  # a pilot or simulated participant keeps their kind


def already_in_study(study: Study, ids: Sequence[str]) -> list[str]:
    """Those of ``ids`` (in the order given) that are participants of ``study`` already: imported
    under that id before, or -- a file exported from this very study -- their public id."""
    uuids = {}
    for text in ids:
        try:
            uuids[text] = uuid.UUID(text)
        except ValueError:
            pass
    found = (
        Participant.objects.filter(study=study)
        .filter(Q(imported_id__in=list(ids)) | Q(public_id__in=list(uuids.values())))
        .values_list("imported_id", "public_id")
    )
    imported = {imported_id for imported_id, _ in found}
    public = {public_id for _, public_id in found}
    return [text for text in ids if text in imported or uuids.get(text) in public]


def _max_imported_id() -> int:
    return Participant._meta.get_field("imported_id").max_length


def check_imported_participants(study: Study, people: Sequence[ImportedParticipant]) -> list[tuple[int, str]]:
    """Every way ``people`` break the survey's rules, as (index in ``people``, message), in order.

    The rules are the ones the survey enforces as it goes: platform ids, one participation per
    person, questions answered in the sheet's order, each one once, each answer by
    :func:`answer_problems` (one of its k options chosen...), finished exactly when all are answered.
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
            bad(
                f"answers must be the positions 1..n in the order shown; position(s) {missing[:5]} are missing"
                if missing
                else "answers must be the positions 1..n in the order shown; a position appears twice"
            )
        if person.finished and len(positions) != study.n_questions:
            bad(f"marked finished but answered {len(positions)} of the study's {study.n_questions} questions")
        if not person.finished and len(positions) == study.n_questions:
            bad(f"answered all {study.n_questions} questions but is not marked finished")
        items = [answer.item_id for answer in person.answers]
        if len(set(items)) != len(items):
            bad("answers an item twice")
        for answer in person.answers:
            refused = answer_problems(
                n_options=k,
                position=answer.position,
                item_id=answer.item_id,
                choice=answer.choice,
                sheet_item_id=answer.item_id,  # the file is the sheet (its order is checked above)
                shown_at=answer.shown_at,
                answered_at=answer.answered_at,
                options=answer.options,
                item_options=item_options.get(answer.item_id, frozenset()),
                study=study.slug,
            )
            if refused:  # the first rule broken, as the survey would have refused it
                bad(f"question {answer.position}: {refused[0].message}")
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
            participants.append(
                Participant(
                    study=study,
                    public_id=person.public_id if keep_id else uuid.uuid4(),
                    imported_id=person.imported_id,
                    kind=person.kind,
                    **params.fields(),
                    sheet_seed=0,
                    started_at=min(a.shown_at for a in ordered),
                    status=Participant.Status.FINISHED if person.finished else Participant.Status.STARTED,
                    finished_at=max(a.answered_at for a in ordered) if person.finished else None,
                    checks_passed=checks if person.finished else None,
                    passed=passes_checks(study, checks) if person.finished else None,
                )
            )
            plan += [(index, answer, f) for answer, f in zip(ordered, fields)]
        Participant.objects.bulk_create(participants)
        entries = SheetEntry.objects.bulk_create(
            [
                SheetEntry(participant=participants[i], position=a.position, item_id=a.item_id, shown_at=a.shown_at)
                for i, a, _ in plan
            ],
            batch_size=2000,
        )
        shown = ShownOption.objects.bulk_create(
            [
                ShownOption(entry=entry, position=p, option_id=option)
                for entry, (_, a, _) in zip(entries, plan)
                for p, option in enumerate(a.options, start=1)
            ],
            batch_size=2000,
        )
        k = study.n_options  # every entry has k shown options, written in order above
        answers = Answer.objects.bulk_create(
            [
                Answer(
                    participant=participants[i],
                    item_id=a.item_id,
                    entry=entry,
                    chosen=shown[n * k + a.choice - 1],
                    position=a.choice,
                    **f,
                    shown_at=a.shown_at,
                    answered_at=a.answered_at,
                )
                for n, (entry, (i, a, f)) in enumerate(zip(entries, plan))
            ],
            batch_size=2000,
        )
    logger.info("imported %s participants (%s answers) into study %s", len(participants), len(answers), study.slug)
    return participants


# --- the long CSV of export_responses ---------------------------------------------------------

# Columns a file may leave out: platform ids (a direct link has none), the kind (absent or
# empty: real, as files written before kinds existed) and what is recomputed.
KIND_COLUMN = export.KIND_COLUMN
OPTIONAL_COLUMNS: tuple[str, ...] = (
    *export.IDENTITY_COLUMNS,
    KIND_COLUMN,
    *export.DERIVED_COLUMNS,
    export.CLASS_NAME,  # MNIST's exports of before have none
)
MAX_ERRORS = 50


def required_columns(n_options: int) -> tuple[str, ...]:
    """The columns a file for a study of ``n_options`` methods must have."""
    return tuple(c for c in export.columns(n_options) if c not in OPTIONAL_COLUMNS)


def _extra_method_columns(header: list[str], n_options: int) -> list[str]:
    """``method_at_p`` columns for positions beyond the study's k."""
    known = set(export.method_columns(n_options))
    return [c for c in header if c.startswith(export.METHOD_AT.format("")) and c not in known]


@dataclass(frozen=True)
class ImportResult:
    participants: int
    finished: int
    answers: int
    new_ids: int  # participants whose id in the file was not a free UUID


class _Bad(ValueError):
    """One problem with the current row (becomes a RowError with the line number)."""


def _int(row: dict[str, str], column: str, low: int, high: int) -> int:
    text = row[column].strip()
    try:
        value = int(text)
    except ValueError:
        raise _Bad(f"{column} {text!r} is not a whole number") from None
    if not low <= value <= high:
        raise _Bad(f"{column} {value} is not between {low} and {high}")
    return value


def _bool(row: dict[str, str], column: str) -> bool | None:
    text = row[column].strip().lower()
    if text == "":
        return None
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise _Bad(f"{column} {row[column]!r} is not true or false")


def _time(row: dict[str, str], column: str) -> datetime:
    text = row[column].strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{column} {text!r} is not an ISO 8601 date and time") from None
    if value.tzinfo is None:
        raise _Bad(f"{column} {text!r} has no UTC offset (write e.g. {text}+00:00)")
    return value


@dataclass
class _ItemInfo:
    pk: int
    kind: str
    digit: int
    by_method: dict[str, int] = field(default_factory=dict)  # real items: method -> option pk
    correct: int | None = None  # attention checks: the correct option's pk
    distractors: list[int] = field(default_factory=list)  # attention checks: other options' pks, in slot order


@dataclass
class _Row:
    line: int
    answer: ImportedAnswer
    item_number: int
    check_passed: bool | None


@dataclass
class _Person:
    key: str
    line: int  # first line
    fields: dict[str, str]
    rows: list[_Row] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)  # position -> line
    items: dict[int, int] = field(default_factory=dict)  # item number -> line

    def imported(self) -> ImportedParticipant:
        f = self.fields
        try:
            public_id = uuid.UUID(self.key)
        except ValueError:
            public_id = None
        return ImportedParticipant(
            imported_id=self.key,
            params=EntryParams(platform=f["platform"], **{c: f[c] for c in export.IDENTITY_COLUMNS}),
            finished=f["participant_status"] == Participant.Status.FINISHED,
            answers=tuple(row.answer for row in self.rows),
            public_id=public_id,
            kind=f[KIND_COLUMN] or Participant.Kind.REAL,
        )


def _load_items(study: Study) -> dict[int, _ItemInfo]:
    items: dict[int, _ItemInfo] = {}
    for item in Item.objects.filter(study=study).order_by("number"):
        items[item.number] = _ItemInfo(item.pk, item.kind, item.digit)
    options = (
        ItemOption.objects.filter(item__study=study)
        .order_by("item__number", "slot")
        .values_list("pk", "item__number", "method", "is_correct")
    )
    for pk, number, method, is_correct in options:
        info = items[number]
        if method:
            info.by_method[method] = pk
        elif is_correct:
            info.correct = pk
        else:
            info.distractors.append(pk)
    return items


def _parse_row(row: dict[str, str], line: int, study: Study, items: dict[int, _ItemInfo], extra: list[str]) -> _Row:
    if row["participant_status"].strip() not in Participant.Status.values:
        raise _Bad(
            f"participant_status {row['participant_status']!r} is not one of {', '.join(Participant.Status.values)}"
        )
    if row[KIND_COLUMN].strip() not in ("", *Participant.Kind.values):
        raise _Bad(f"{KIND_COLUMN} {row[KIND_COLUMN]!r} is not one of {', '.join(Participant.Kind.values)}")
    position = _int(row, "position", 1, study.n_questions)
    number = _int(row, "item_number", 1, 10_000)
    item = items.get(number)
    if item is None:
        raise _Bad(f"item_number {number} is not a question of study {study.slug} (it has items 1-{len(items)})")
    kind = row["kind"].strip()
    if kind != item.kind:
        raise _Bad(f"kind {kind!r} but item {number} of study {study.slug} is {item.kind!r}")
    digit = _int(row, "digit", 0, study.n_classes - 1)
    if digit != item.digit:
        raise _Bad(
            f"digit {digit} but item {number} of study {study.slug} asks about digit {item.digit}"
            " (was the study created with the same seed?)"
        )
    name = row[export.CLASS_NAME].strip()
    if name and name != study.class_name(digit):
        raise _Bad(
            f"{export.CLASS_NAME} {name!r} but class {digit} of study {study.slug} is {study.class_name(digit)!r}"
        )
    k = study.n_options
    filled = [c for c in extra if row[c].strip()]
    if filled:
        raise _Bad(
            f"{filled[0]} is {row[filled[0]].strip()!r} but study {study.slug} shows {k} options "
            f"({', '.join(study.methods)})"
        )
    chosen = _int(row, "chosen_position", 1, k)
    at = [row[c].strip() for c in export.method_columns(k)]
    chosen_method = row["chosen_method"].strip()
    check_passed = _bool(row, "check_passed")
    if item.kind == Item.Kind.REAL:
        if sorted(at) != sorted(study.methods):
            raise _Bad(f"method_at_1..{k} {', '.join(at)} is not an order of {', '.join(study.methods)}")
        if row["correct_position"].strip() or check_passed is not None:
            raise _Bad("a real question has no correct_position or check_passed")
        if chosen_method != at[chosen - 1]:
            raise _Bad(f"chosen_method {chosen_method!r} but method_at_{chosen} is {at[chosen - 1]!r}")
        shown = tuple(item.by_method[m] for m in at)
    else:
        if any(at):
            raise _Bad("an attention check has no method_at_* columns")
        correct = _int(row, "correct_position", 1, k)
        if chosen_method:
            raise _Bad(f"an attention check has no chosen_method (got {chosen_method!r})")
        if check_passed is None:
            raise _Bad("check_passed is empty for an attention check")
        if check_passed != (chosen == correct):
            raise _Bad(
                f"check_passed is {str(check_passed).lower()} but chosen_position {chosen} "
                f"{'is' if chosen == correct else 'is not'} correct_position {correct}"
            )
        others = iter(item.distractors)
        shown = tuple(item.correct if p == correct else next(others) for p in range(1, k + 1))
    shown_at = _time(row, "shown_at")
    answered_at = _time(row, "answered_at")
    if answered_at < shown_at:
        raise _Bad(f"answered_at {row['answered_at']} is before shown_at {row['shown_at']}")
    answer = ImportedAnswer(position, item.pk, shown, chosen, shown_at, answered_at)
    return _Row(line, answer, number, check_passed)


def _check_person(person: _Person, errors: list[RowError]) -> None:
    """What the file says twice must agree (reported at the participant's first line)."""
    stated = person.fields["participant_checks_passed"]
    checks = sum(row.check_passed is True for row in person.rows)
    if person.fields["participant_status"] == Participant.Status.FINISHED and stated not in ("", str(checks)):
        errors.append(
            RowError(
                person.line,
                f"participant {person.key}: participant_checks_passed is {stated} but "
                f"{checks} of the attention checks in the file are correct",
            )
        )


def _read(
    study: Study, stream: IO[str], items: dict[int, _ItemInfo]
) -> tuple[dict[str, _Person], dict[str, int], list[RowError], int, set[str]]:
    """Parse and check every row; returns the participants, every participant id with its first
    line, the errors, how many errors were left out, and the participants with a bad row."""
    errors: list[RowError] = []
    first_lines: dict[str, int] = {}
    broken: set[str] = set()
    more = 0
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise ImportFailed([RowError(1, "the file is empty (expected the header of export_responses)")])
    header = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in required_columns(study.n_options) if c not in header]
    if missing:
        raise ImportFailed(
            [RowError(1, f"missing column(s) {', '.join(missing)} (expected the columns of export_responses)")]
        )
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise ImportFailed([RowError(1, f"column(s) {', '.join(duplicated)} appear more than once")])
    extra = _extra_method_columns(header, study.n_options)
    people: dict[str, _Person] = {}
    for cells in reader:
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            errors.append(RowError(line, f"has {len(cells)} fields, the header has {len(header)}"))
            continue
        row = {name: export.read_cell(cell) for name, cell in zip(header, cells)}
        for column in export.columns(study.n_options):
            row.setdefault(column, "")
        key = row["participant"].strip()
        if key:
            first_lines.setdefault(key, line)
        try:
            if not key:
                raise _Bad("participant is empty")
            parsed = _parse_row(row, line, study, items, extra)
            person = people.get(key)
            fields_ = {c: row[c].strip() for c in export.PARTICIPANT_COLUMNS}
            if person is None:
                person = people[key] = _Person(key, line, fields_)
            else:
                for column in export.PARTICIPANT_COLUMNS:
                    if fields_[column] != person.fields[column]:
                        raise _Bad(
                            f"{column} {fields_[column]!r} differs from {person.fields[column]!r} on line "
                            f"{person.line} for the same participant"
                        )
            position = parsed.answer.position
            if position in person.positions:
                raise _Bad(f"participant {key} already has position {position} on line {person.positions[position]}")
            if parsed.item_number in person.items:
                raise _Bad(
                    f"participant {key} already answered item {parsed.item_number} on line {person.items[parsed.item_number]}"
                )
        except _Bad as exc:
            broken.add(key)
            if len(errors) < MAX_ERRORS:
                errors.append(RowError(line, str(exc)))
            else:
                more += 1
            continue
        person.positions[position] = line
        person.items[parsed.item_number] = line
        person.rows.append(parsed)
    if not first_lines and not errors:
        raise ImportFailed([RowError(1, "the file has a header but no answers")])
    return people, first_lines, errors, more, broken


def _refuse_a_repeat(study: Study, first_lines: dict[str, int]) -> None:
    """One error, not one per participant, for a file (or part of one) imported before."""
    repeated = already_in_study(study, list(first_lines))
    if repeated:
        others = (
            f" (and {len(repeated) - 1} more of the file's {len(first_lines)} participants)"
            if len(repeated) > 1
            else ""
        )
        raise ImportFailed(
            [
                RowError(
                    first_lines[repeated[0]],
                    f"participant {repeated[0]} is already in study "
                    f"{study.slug}{others}: this file, or one with the same participant ids, was imported before",
                )
            ]
        )


def import_csv(study: Study, stream: IO[str]) -> ImportResult:
    """Import the long CSV in ``stream`` into ``study``; raises :class:`ImportFailed` (nothing written)."""
    items = _load_items(study)
    people, first_lines, errors, more, broken = _read(study, stream, items)
    _refuse_a_repeat(study, first_lines)
    checked = [person for person in people.values() if person.key not in broken]
    for person in checked:
        _check_person(person, errors)
    imported = [person.imported() for person in checked]
    problems = check_imported_participants(study, imported)
    errors += [RowError(checked[index].line, message) for index, message in problems]
    if errors:
        raise ImportFailed(errors, more)
    try:
        participants = import_participants(study, imported)
    except ImportRefused as exc:  # a concurrent write took an id checked above
        raise ImportFailed([RowError(checked[index].line, message) for index, message in exc.problems]) from None
    except IntegrityError as exc:
        raise ImportFailed([RowError(1, f"the database refused the import ({exc}); nothing was imported")]) from None
    finished = [p for p in participants if p.is_finished]
    return ImportResult(
        participants=len(participants),
        finished=len(finished),
        answers=sum(len(person.answers) for person in imported),
        new_ids=sum(p.public_id != person.public_id for p, person in zip(participants, imported)),
    )
