"""Import answers in the long CSV format of :mod:`survey.export` into a study (all or nothing).

For studies run elsewhere (another copy of this platform, or another platform writing the same
columns): the rows become participants, sheet entries, shown options and answers of an existing
study with the same questions (same item numbers, kinds and digits -- a study created from the
same explanation set with the same seed has them). This module reads and checks the file; the
survey's rules (platform ids, one participation per person, answer fields, the pass rule) and
the writing are :func:`survey.services.import_participants`'s.

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
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from django.db import IntegrityError

from . import export, services
from .models import Item, ItemOption, Participant, Study

# Columns a file may leave out: platform ids (a direct link has none) and what is recomputed.
OPTIONAL_COLUMNS: tuple[str, ...] = (*export.IDENTITY_COLUMNS, *export.DERIVED_COLUMNS)
MAX_ERRORS = 50


def required_columns(n_options: int) -> tuple[str, ...]:
    """The columns a file for a study of ``n_options`` methods must have."""
    return tuple(c for c in export.columns(n_options) if c not in OPTIONAL_COLUMNS)


def _extra_method_columns(header: list[str], n_options: int) -> list[str]:
    """``method_at_p`` columns for positions beyond the study's k."""
    known = set(export.method_columns(n_options))
    return [c for c in header if c.startswith(export.METHOD_AT.format("")) and c not in known]


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
    answer: services.ImportedAnswer
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

    def imported(self) -> services.ImportedParticipant:
        f = self.fields
        try:
            public_id = uuid.UUID(self.key)
        except ValueError:
            public_id = None
        return services.ImportedParticipant(
            imported_id=self.key,
            params=services.EntryParams(platform=f["platform"], **{c: f[c] for c in export.IDENTITY_COLUMNS}),
            finished=f["participant_status"] == Participant.Status.FINISHED,
            answers=tuple(row.answer for row in self.rows),
            public_id=public_id,
        )


def _load_items(study: Study) -> dict[int, _ItemInfo]:
    items: dict[int, _ItemInfo] = {}
    for item in Item.objects.filter(study=study).order_by("number"):
        items[item.number] = _ItemInfo(item.pk, item.kind, item.digit)
    options = ItemOption.objects.filter(item__study=study).order_by("item__number", "slot").values_list(
        "pk", "item__number", "method", "is_correct"
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
    k = study.n_options
    filled = [c for c in extra if row[c].strip()]
    if filled:
        raise _Bad(f"{filled[0]} is {row[filled[0]].strip()!r} but study {study.slug} shows {k} options "
                   f"({', '.join(study.methods)})")
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
            raise _Bad(f"check_passed is {str(check_passed).lower()} but chosen_position {chosen} "
                       f"{'is' if chosen == correct else 'is not'} correct_position {correct}")
        others = iter(item.distractors)
        shown = tuple(item.correct if p == correct else next(others) for p in range(1, k + 1))
    shown_at = _time(row, "shown_at")
    answered_at = _time(row, "answered_at")
    if answered_at < shown_at:
        raise _Bad(f"answered_at {row['answered_at']} is before shown_at {row['shown_at']}")
    answer = services.ImportedAnswer(position, item.pk, shown, chosen, shown_at, answered_at)
    return _Row(line, answer, number, check_passed)


def _check_person(person: _Person, errors: list[RowError]) -> None:
    """What the file says twice must agree (reported at the participant's first line)."""
    stated = person.fields["participant_checks_passed"]
    checks = sum(row.check_passed is True for row in person.rows)
    if person.fields["participant_status"] == Participant.Status.FINISHED and stated not in ("", str(checks)):
        errors.append(RowError(person.line, f"participant {person.key}: participant_checks_passed is {stated} but "
                                            f"{checks} of the attention checks in the file are correct"))


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
        raise ImportFailed([RowError(1, f"missing column(s) {', '.join(missing)} (expected the columns of export_responses)")])
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
                        raise _Bad(f"{column} {fields_[column]!r} differs from {person.fields[column]!r} on line "
                                   f"{person.line} for the same participant")
            position = parsed.answer.position
            if position in person.positions:
                raise _Bad(f"participant {key} already has position {position} on line {person.positions[position]}")
            if parsed.item_number in person.items:
                raise _Bad(f"participant {key} already answered item {parsed.item_number} on line {person.items[parsed.item_number]}")
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
    repeated = services.already_in_study(study, list(first_lines))
    if repeated:
        others = f" (and {len(repeated) - 1} more of the file's {len(first_lines)} participants)" if len(repeated) > 1 else ""
        raise ImportFailed([RowError(first_lines[repeated[0]], f"participant {repeated[0]} is already in study "
                                                               f"{study.slug}{others}: this file, or one with the same participant ids, was imported before")])


def import_csv(study: Study, stream: IO[str]) -> ImportResult:
    """Import the long CSV in ``stream`` into ``study``; raises :class:`ImportFailed` (nothing written)."""
    items = _load_items(study)
    people, first_lines, errors, more, broken = _read(study, stream, items)
    _refuse_a_repeat(study, first_lines)
    checked = [person for person in people.values() if person.key not in broken]
    for person in checked:
        _check_person(person, errors)
    imported = [person.imported() for person in checked]
    problems = services.check_imported_participants(study, imported)
    errors += [RowError(checked[index].line, message) for index, message in problems]
    if errors:
        raise ImportFailed(errors, more)
    try:
        participants = services.import_participants(study, imported)
    except services.ImportRefused as exc:  # a concurrent write took an id checked above
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
