"""Import answers in the long CSV format of ``export_responses`` into a study (all or nothing).

For studies run elsewhere (another copy of this platform, or another platform writing the same
columns): the rows become participants, sheet entries, shown options and answers of an existing
study with the same questions (same item numbers, kinds and digits -- a study created from the
same explanation set with the same seed has them).

What the file does not say, and how it is filled in:

* The sheet: only the items a participant answered get a sheet entry, at the position the file
  records (an unfinished participant's unanswered questions are unknown, so they have none).
* Attention checks: the file records where the correct picture sat; the three distractors are
  placed on the remaining positions in their canonical slot order.
* ``started_at`` is the first ``shown_at``, ``finished_at`` the last ``answered_at``; the sheet
  seed is 0 and the user agent empty. A participant id that is a UUID not yet used is kept;
  otherwise the participant gets a new one (counted in the result).
* ``participant_passed`` is recomputed against *this* study's pass threshold.

Every row is checked before anything is written; errors name the line (header = line 1) and
say what is wrong. Nothing is written unless the whole file is valid (one transaction).
"""
from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from django.db import IntegrityError, transaction

from survey.export import COLUMNS, FORMULA_STARTS
from survey.models import OPTIONS_PER_QUESTION, Answer, Item, ItemOption, Participant, SheetEntry, ShownOption, Study

from .study import METHODS

REQUIRED = (
    "participant", "platform", "participant_status", "position", "item_number", "kind", "digit",
    *(f"method_at_{p}" for p in range(1, OPTIONS_PER_QUESTION + 1)),
    "correct_position", "chosen_position", "chosen_method", "check_passed", "shown_at", "answered_at",
)
# Columns that describe the participant, not the answer: equal on all of a participant's rows.
PARTICIPANT_COLUMNS = (
    "platform", "worker_id", "assignment_id", "hit_id", "prolific_pid", "prolific_study_id", "prolific_session_id",
    "participant_status", "participant_checks_passed", "participant_passed",
)
MAX_ERRORS = 50


@dataclass(frozen=True, order=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportFailed(Exception):
    """The file is not valid; nothing was imported. ``errors`` are sorted by line."""

    def __init__(self, errors: list[RowError], more: int = 0):
        self.errors = sorted(errors)
        self.more = more
        first = str(self.errors[0]) if self.errors else "invalid file"
        total = len(self.errors) + more
        super().__init__(first if total == 1 else f"{first} (and {total - 1} more errors)")


@dataclass(frozen=True)
class ImportResult:
    participants: int
    finished: int
    answers: int
    new_ids: int  # participants whose id in the file was not a free UUID


def unescape(cell: str) -> str:
    """Undo ``survey.export.csv_cell``: drop the quote it puts before a formula-like cell."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


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
    by_method: dict[str, int]  # real items: method -> option pk
    correct: int | None  # attention checks: the correct option's pk
    distractors: list[int]  # attention checks: other options' pks, in slot order
    option_method: dict[int, str]
    option_correct: dict[int, bool]


@dataclass
class _Row:
    line: int
    position: int
    item: _ItemInfo
    item_number: int
    shown: dict[int, int]  # on-screen position -> option pk
    chosen_position: int
    shown_at: datetime
    answered_at: datetime


@dataclass
class _Person:
    key: str
    line: int  # first line
    fields: dict[str, str]
    rows: list[_Row] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)  # position -> line
    items: dict[int, int] = field(default_factory=dict)  # item number -> line


def _load_items(study: Study) -> dict[int, _ItemInfo]:
    items: dict[int, _ItemInfo] = {}
    for item in Item.objects.filter(study=study).order_by("number"):
        items[item.number] = _ItemInfo(item.pk, item.kind, item.digit, {}, None, [], {}, {})
    options = ItemOption.objects.filter(item__study=study).order_by("item__number", "slot").values_list(
        "pk", "item__number", "method", "is_correct"
    )
    for pk, number, method, is_correct in options:
        info = items[number]
        info.option_method[pk] = method
        info.option_correct[pk] = is_correct
        if method:
            info.by_method[method] = pk
        elif is_correct:
            info.correct = pk
        else:
            info.distractors.append(pk)
    return items


def _parse_row(row: dict[str, str], line: int, study: Study, items: dict[int, _ItemInfo]) -> _Row:
    platform = row["platform"].strip()
    if platform not in Participant.Platform.values:
        raise _Bad(f"platform {platform!r} is not one of {', '.join(Participant.Platform.values)}")
    if row["participant_status"].strip() not in Participant.Status.values:
        raise _Bad(f"participant_status {row['participant_status']!r} is not one of {', '.join(Participant.Status.values)}")
    position = _int(row, "position", 1, study.n_questions)
    number = _int(row, "item_number", 1, 10_000)
    item = items.get(number)
    if item is None:
        raise _Bad(f"item_number {number} is not a question of study {study.slug} (it has items 1-{len(items)})")
    kind = row["kind"].strip()
    if kind != item.kind:
        raise _Bad(f"kind {kind!r} but item {number} of study {study.slug} is {item.kind!r}")
    digit = _int(row, "digit", 0, 9)
    if digit != item.digit:
        raise _Bad(f"digit {digit} but item {number} of study {study.slug} asks about digit {item.digit}"
                   " (was the study created with the same seed?)")
    chosen = _int(row, "chosen_position", 1, OPTIONS_PER_QUESTION)
    at = [row[f"method_at_{p}"].strip() for p in range(1, OPTIONS_PER_QUESTION + 1)]
    chosen_method = row["chosen_method"].strip()
    check_passed = _bool(row, "check_passed")
    if item.kind == Item.Kind.REAL:
        if sorted(at) != sorted(METHODS):
            raise _Bad(f"method_at_1..{OPTIONS_PER_QUESTION} {', '.join(at)} is not an order of {', '.join(METHODS)}")
        if row["correct_position"].strip() or check_passed is not None:
            raise _Bad("a real question has no correct_position or check_passed")
        if chosen_method != at[chosen - 1]:
            raise _Bad(f"chosen_method {chosen_method!r} but method_at_{chosen} is {at[chosen - 1]!r}")
        shown = {p: item.by_method[m] for p, m in enumerate(at, start=1)}
    else:
        if any(at):
            raise _Bad("an attention check has no method_at_* columns")
        correct = _int(row, "correct_position", 1, OPTIONS_PER_QUESTION)
        if chosen_method:
            raise _Bad(f"an attention check has no chosen_method (got {chosen_method!r})")
        if check_passed is None:
            raise _Bad("check_passed is empty for an attention check")
        if check_passed != (chosen == correct):
            raise _Bad(f"check_passed is {str(check_passed).lower()} but chosen_position {chosen} "
                       f"{'is' if chosen == correct else 'is not'} correct_position {correct}")
        others = iter(item.distractors)
        shown = {p: item.correct if p == correct else next(others) for p in range(1, OPTIONS_PER_QUESTION + 1)}
    shown_at = _time(row, "shown_at")
    answered_at = _time(row, "answered_at")
    if answered_at < shown_at:
        raise _Bad(f"answered_at {row['answered_at']} is before shown_at {row['shown_at']}")
    return _Row(line, position, item, number, shown, chosen, shown_at, answered_at)


def _check_person(person: _Person, study: Study, errors: list[RowError]) -> None:
    """Rules about all of one participant's rows (reported at their first line)."""
    f = person.fields
    who = f"participant {person.key}"

    def bad(message: str) -> None:
        errors.append(RowError(person.line, f"{who}: {message}"))

    if f["platform"] == Participant.Platform.MTURK and not (f["worker_id"] and f["assignment_id"] and f["hit_id"]):
        bad("an MTurk participant needs worker_id, assignment_id and hit_id")
    if f["platform"] == Participant.Platform.PROLIFIC and not f["prolific_pid"]:
        bad("a Prolific participant needs prolific_pid")
    positions = sorted(person.positions)
    if positions != list(range(1, len(positions) + 1)):
        missing = sorted(set(range(1, max(positions) + 1)) - set(positions))
        bad(f"answers must be the positions 1..n in the order shown; position(s) {missing[:5]} are missing")
    finished = f["participant_status"] == Participant.Status.FINISHED
    if finished and len(person.rows) != study.n_questions:
        bad(f"marked finished but answered {len(person.rows)} of the study's {study.n_questions} questions")
    checks = sum(row.item.option_correct[row.shown[row.chosen_position]] for row in person.rows)
    stated = f["participant_checks_passed"]
    if finished and stated != "" and stated != str(checks):
        bad(f"participant_checks_passed is {stated} but {checks} of the attention checks in the file are correct")


def _read(
    study: Study, stream: IO[str], items: dict[int, _ItemInfo]
) -> tuple[dict[str, _Person], list[RowError], int, set[str]]:
    """Parse and check every row; returns the participants, the errors, how many errors were
    left out, and the participants with a bad row (their whole-participant checks are skipped)."""
    errors: list[RowError] = []
    broken: set[str] = set()
    more = 0
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise ImportFailed([RowError(1, "the file is empty (expected the header of export_responses)")])
    header = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportFailed([RowError(1, f"missing column(s) {', '.join(missing)} (expected the columns of export_responses)")])
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise ImportFailed([RowError(1, f"column(s) {', '.join(duplicated)} appear more than once")])
    people: dict[str, _Person] = {}
    for cells in reader:
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            errors.append(RowError(line, f"has {len(cells)} fields, the header has {len(header)}"))
            continue
        row = {name: unescape(cell) for name, cell in zip(header, cells)}
        for column in COLUMNS:
            row.setdefault(column, "")
        key = row["participant"].strip()
        try:
            if not key:
                raise _Bad("participant is empty")
            parsed = _parse_row(row, line, study, items)
            person = people.get(key)
            fields_ = {c: row[c].strip() for c in PARTICIPANT_COLUMNS}
            if person is None:
                person = people[key] = _Person(key, line, fields_)
            else:
                for column in PARTICIPANT_COLUMNS:
                    if fields_[column] != person.fields[column]:
                        raise _Bad(f"{column} {fields_[column]!r} differs from {person.fields[column]!r} on line "
                                   f"{person.line} for the same participant")
            if parsed.position in person.positions:
                raise _Bad(f"participant {key} already has position {parsed.position} on line {person.positions[parsed.position]}")
            if parsed.item_number in person.items:
                raise _Bad(f"participant {key} already answered item {parsed.item_number} on line {person.items[parsed.item_number]}")
        except _Bad as exc:
            broken.add(key)
            if len(errors) < MAX_ERRORS:
                errors.append(RowError(line, str(exc)))
            else:
                more += 1
            continue
        person.positions[parsed.position] = line
        person.items[parsed.item_number] = line
        person.rows.append(parsed)
    if not people and not errors:
        raise ImportFailed([RowError(1, "the file has a header but no answers")])
    return people, errors, more, broken


def _check_identities(study: Study, people: dict[str, _Person], errors: list[RowError]) -> None:
    """Ids the database or the file already uses (MTurk and Prolific participants take part once)."""
    seen: dict[tuple[str, str], str] = {}
    for person in people.values():
        f = person.fields
        keys = []
        if f["platform"] == Participant.Platform.MTURK:
            keys = [("worker", f["worker_id"]), ("assignment", f["assignment_id"])]
        elif f["platform"] == Participant.Platform.PROLIFIC:
            keys = [("prolific", f["prolific_pid"])]
        for key in keys:
            if key in seen:
                errors.append(RowError(person.line, f"participant {person.key}: {key[0]} id {key[1]!r} is also participant {seen[key]}'s"))
            seen[key] = person.key
        if f["platform"] == Participant.Platform.MTURK:
            if Participant.objects.filter(study=study, platform="mturk", worker_id=f["worker_id"]).exists():
                errors.append(RowError(person.line, f"participant {person.key}: worker {f['worker_id']!r} already took part in study {study.slug}"))
            if Participant.objects.filter(platform="mturk", assignment_id=f["assignment_id"]).exists():
                errors.append(RowError(person.line, f"participant {person.key}: assignment {f['assignment_id']!r} is already "
                                                    "a participant's (MTurk assignments are unique across studies)"))
        if f["platform"] == Participant.Platform.PROLIFIC and Participant.objects.filter(
            study=study, platform="prolific", prolific_pid=f["prolific_pid"]
        ).exists():
            errors.append(RowError(person.line, f"participant {person.key}: Prolific participant {f['prolific_pid']!r} already took part in study {study.slug}"))
    ids = {}
    for person in people.values():
        try:
            ids[person.key] = uuid.UUID(person.key)
        except ValueError:
            pass
    in_study = set(Participant.objects.filter(study=study, public_id__in=list(ids.values())).values_list("public_id", flat=True))
    for person in people.values():
        if ids.get(person.key) in in_study:
            errors.append(RowError(person.line, f"participant {person.key} is already in study {study.slug} (imported before?)"))


def import_csv(study: Study, stream: IO[str]) -> ImportResult:
    """Import the long CSV in ``stream`` into ``study``; raises :class:`ImportFailed` (nothing written)."""
    items = _load_items(study)
    people, errors, more, broken = _read(study, stream, items)
    for person in people.values():
        if person.key not in broken:
            _check_person(person, study, errors)
    _check_identities(study, people, errors)
    if errors:
        raise ImportFailed(errors, more)
    try:
        return _write(study, people)
    except IntegrityError as exc:  # a concurrent write took an id checked above
        raise ImportFailed([RowError(1, f"the database refused the import ({exc}); nothing was imported")]) from None


def _write(study: Study, people: dict[str, _Person]) -> ImportResult:
    taken_ids = set(
        Participant.objects.filter(public_id__in=[p.key for p in people.values() if _is_uuid(p.key)]).values_list(
            "public_id", flat=True
        )
    )
    new_ids = 0
    with transaction.atomic():
        participants = []
        for person in people.values():
            f = person.fields
            rows = sorted(person.rows, key=lambda r: r.position)
            finished = f["participant_status"] == Participant.Status.FINISHED
            public_id = uuid.UUID(person.key) if _is_uuid(person.key) else None
            if public_id is None or public_id in taken_ids:
                public_id = uuid.uuid4()
                new_ids += 1
            checks = sum(r.item.option_correct[r.shown[r.chosen_position]] for r in rows)
            participants.append(Participant(
                study=study, public_id=public_id, platform=f["platform"], status=f["participant_status"],
                worker_id=f["worker_id"], assignment_id=f["assignment_id"], hit_id=f["hit_id"],
                prolific_pid=f["prolific_pid"], prolific_study_id=f["prolific_study_id"],
                prolific_session_id=f["prolific_session_id"], sheet_seed=0,
                started_at=min(r.shown_at for r in rows),
                finished_at=max(r.answered_at for r in rows) if finished else None,
                checks_passed=checks if finished else None,
                passed=(checks >= study.pass_threshold) if finished else None,
            ))
        Participant.objects.bulk_create(participants)
        entries = []
        plan = []
        for participant, person in zip(participants, people.values()):
            for row in person.rows:
                entries.append(SheetEntry(participant=participant, position=row.position, item_id=row.item.pk,
                                          shown_at=row.shown_at))
                plan.append((participant, row))
        SheetEntry.objects.bulk_create(entries, batch_size=2000)
        shown_objects = []
        for entry, (_, row) in zip(entries, plan):
            shown_objects += [ShownOption(entry=entry, position=p, option_id=option) for p, option in sorted(row.shown.items())]
        ShownOption.objects.bulk_create(shown_objects, batch_size=2000)
        answers = []
        for index, (entry, (participant, row)) in enumerate(zip(entries, plan)):
            chosen = shown_objects[index * OPTIONS_PER_QUESTION + row.chosen_position - 1]
            option = chosen.option_id
            attention = row.item.kind == Item.Kind.ATTENTION
            answers.append(Answer(
                participant=participant, item_id=row.item.pk, entry=entry, chosen=chosen, position=row.chosen_position,
                method="" if attention else row.item.option_method[option],
                correct=row.item.option_correct[option] if attention else None,
                shown_at=row.shown_at, answered_at=row.answered_at,
            ))
        Answer.objects.bulk_create(answers, batch_size=2000)
    return ImportResult(
        participants=len(participants),
        finished=sum(p.status == Participant.Status.FINISHED for p in participants),
        answers=len(answers),
        new_ids=new_ids,
    )


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
