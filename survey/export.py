"""Responses in long format: one row per answer, for the analysis and for archiving.

Used by ``manage.py export_responses`` and the monitor's download buttons; ``services.imports`` reads
the same columns back. A study of k methods has the columns ``method_at_1`` .. ``method_at_k``
(:func:`columns`): the file has as many as the study showed options, no empty ones.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from django.utils import timezone

from .models import Answer, ShownOption, Study

# A participant's ids on their platform: named as EntryParams' fields and Participant's columns.
IDENTITY_COLUMNS: tuple[str, ...] = (
    "worker_id",
    "assignment_id",
    "hit_id",
    "prolific_pid",
    "prolific_study_id",
    "prolific_session_id",
)
KIND_COLUMN = "participant_kind"  # real, pilot or simulated (Participant.Kind); only real ones count
# Columns that describe the participant, not the answer: equal on all of a participant's rows.
PARTICIPANT_COLUMNS: tuple[str, ...] = (
    "platform",
    KIND_COLUMN,
    *IDENTITY_COLUMNS,
    "participant_status",
    "participant_checks_passed",
    "participant_passed",
)
CLASS_NAME = "class_name"  # the name of the class ``digit`` (MNIST's: the digit again); files of before lack it
METHOD_AT = "method_at_{}"  # the method shown at on-screen position p (real questions)


def method_columns(n_options: int) -> tuple[str, ...]:
    return tuple(METHOD_AT.format(p) for p in range(1, n_options + 1))


def answer_columns(n_options: int) -> tuple[str, ...]:
    return (
        "position",  # 1-based place of the item in this participant's order
        "item_number",
        "kind",
        "digit",  # the class asked about, by its label (MNIST's digit)
        CLASS_NAME,
        *method_columns(n_options),
        "correct_position",
        "chosen_position",
        "chosen_method",
        "check_passed",
        "shown_at",
        "answered_at",
        "response_ms",
    )


def columns(n_options: int) -> tuple[str, ...]:
    """The header of a study of ``n_options`` methods (``study.n_options``)."""
    return ("study", "participant", *PARTICIPANT_COLUMNS, *answer_columns(n_options))


# What a reader can do without: the scores and the response time follow from the other
# columns, and the study is the one imported into.
DERIVED_COLUMNS: tuple[str, ...] = ("study", "participant_checks_passed", "participant_passed", "response_ms")
FORMATS = ("csv", "json")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def rows(study: Study) -> Iterator[dict[str, Any]]:
    """The study's answers, participant by participant, in the order each was shown."""
    layout: dict[int, dict[int, tuple[str, bool]]] = {}
    shown = ShownOption.objects.filter(entry__participant__study=study).values_list(
        "entry_id", "position", "option__method", "option__is_correct"
    )
    for entry_id, position, method, is_correct in shown.iterator(chunk_size=5000):
        layout.setdefault(entry_id, {})[position] = (method, is_correct)
    answers = (
        Answer.objects.filter(participant__study=study)
        .select_related("participant", "item", "entry")
        .order_by("participant__started_at", "participant_id", "entry__position")
    )
    positions = range(1, study.n_options + 1)
    for answer in answers.iterator(chunk_size=2000):
        p, item = answer.participant, answer.item
        options = layout.get(answer.entry_id, {})
        attention = item.kind == item.Kind.ATTENTION
        correct_position = next((pos for pos, (_, ok) in options.items() if ok), None) if attention else None
        row = {
            "study": study.slug,
            "participant": str(p.public_id),
            "platform": p.platform,
            KIND_COLUMN: p.kind,
            **{column: getattr(p, column) for column in IDENTITY_COLUMNS},
            "participant_status": p.status,
            "participant_checks_passed": p.checks_passed,
            "participant_passed": p.passed,
            "position": answer.entry.position,
            "item_number": item.number,
            "kind": item.kind,
            "digit": item.digit,
            CLASS_NAME: study.class_name(item.digit),
            **{METHOD_AT.format(pos): (options.get(pos, ("", False))[0] or None) for pos in positions},
            "correct_position": correct_position,
            "chosen_position": answer.position,
            "chosen_method": answer.method or None,
            "check_passed": answer.correct,
            "shown_at": answer.shown_at,
            "answered_at": answer.answered_at,
            "response_ms": answer.response_ms,
        }
        yield row


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def csv_cell(value: Any) -> str:
    """A cell as text, with a leading quote on anything a spreadsheet would run as a formula."""
    text = _text(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def read_cell(cell: str) -> str:
    """Undo :func:`csv_cell`: drop the quote it puts before a formula-like cell."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def write_csv(study: Study, out: IO[str]) -> int:
    header = columns(study.n_options)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    n = 0
    for row in rows(study):
        writer.writerow([csv_cell(row[c]) for c in header])
        n += 1
    return n


def write_json(study: Study, out: IO[str]) -> int:
    header = columns(study.n_options)
    data = [
        {c: (row[c].isoformat() if isinstance(row[c], datetime) else row[c]) for c in header} for row in rows(study)
    ]
    document = {
        "study": study.slug,
        "name": study.name,
        "explanation_set": study.explanation_set.name,
        "methods": list(study.methods),
        "n_real_questions": study.n_real_questions,
        "n_attention_checks": study.n_attention_checks,
        "pass_threshold": study.pass_threshold,
        "exported_at": timezone.now().isoformat(),
        "columns": list(header),
        "rows": data,
    }
    json.dump(document, out, indent=1)
    out.write("\n")
    return len(data)


def write(study: Study, fmt: str, out: IO[str]) -> int:
    """Write the study's answers to ``out`` as ``fmt`` (csv or json); returns the number of rows."""
    if fmt == "csv":
        return write_csv(study, out)
    if fmt == "json":
        return write_json(study, out)
    raise ValueError(f"unknown format {fmt!r} (use {' or '.join(FORMATS)})")
