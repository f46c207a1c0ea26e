"""Writes that carry the study's rules: building studies, starting, answering, finishing.

Views and commands call these functions and nothing else writes survey data. Each rule is also
backed by a database constraint (see models.py), so a bug here or a race between two requests
ends in an IntegrityError, never in a duplicate or a corrupted answer.

The package is split by domain; every public name is re-exported here, so callers write
``from survey.services import X`` (or ``services.X``) whichever module holds it:

* ``errors``: the exceptions of refused requests (:class:`SurveyError` and its kinds) and of a file
  that cannot be imported (:class:`ImportFailed`, its :class:`RowError` s).
* ``studies``: building and validating studies (methods, question counts, items, images, the
  consent text unless given), the demo study, a study's status, replacing an attention check.
* ``participation``: who a participant is on their platform (:class:`EntryParams`, the identity
  checks), starting (writing the sheet) and the questions shown.
* ``answers``: the answer rules (:func:`answer_problems`, pure: the live path and the import
  both call it), recording answers, finishing and the pass rule, a participant's review.
* ``imports``: participants who took the study elsewhere, checked by the survey's rules and
  written all or nothing, and the reading of their long CSV (:func:`import_csv`).
* ``kinds``: participants by kind: deleting pilots and simulated ones (never real ones), the
  Prolific ids of real participants who passed or failed the checks.
* ``summary``: the monitor's numbers of a study (real participants; pilots and simulated apart).

Participants' pages import this package: nothing here imports NumPy, Pillow or matplotlib at
import time (``survey.attention`` is imported inside the functions that build studies).
"""

from __future__ import annotations

from .answers import (
    AnswerProblem,
    AnswerResult,
    AnswerRule,
    answer_fields,
    answer_problems,
    finish_participant,
    passes_checks,
    record_answer,
    record_review,
)
from .errors import (
    AlreadyTookPart,
    AssignmentTaken,
    BadStudyInput,
    DeletionRefused,
    ImportFailed,
    ImportRefused,
    InvalidChoice,
    MissingIdentity,
    NotComplete,
    NotOnSheet,
    OutOfOrder,
    PlatformNotAccepted,
    RowError,
    StudyLocked,
    StudyNotOpen,
    SurveyError,
)
from .imports import (
    MAX_ERRORS,
    OPTIONAL_COLUMNS,
    ImportedAnswer,
    ImportedParticipant,
    ImportResult,
    already_in_study,
    check_imported_participants,
    import_csv,
    import_participants,
    required_columns,
)
from .kinds import check_deletable, deletable_kinds, delete_participants, prolific_ids
from .participation import (
    EntryParams,
    Question,
    build_sheet,
    check_can_start,
    check_identity,
    check_new_identity,
    current_question,
    find_participant,
    next_position,
    show_question,
    start_participant,
    start_pilot,
)
from .studies import (
    DEFAULT_STUDY_NAME,
    DEMO_SLUG,
    MIN_DEFAULT_REAL_QUESTIONS,
    MNIST_N_CLASSES,
    TEXT_FIELDS,
    block_rule_text,
    check_method_names,
    check_methods,
    check_texts,
    create_demo_study,
    create_study,
    default_real_questions,
    parse_methods,
    real_question_block,
    replace_attention_check,
    set_study_status,
    update_texts,
    valid_real_questions,
)
from .summary import StudySummary, study_summary

__all__ = [
    # errors
    "AlreadyTookPart",
    "AssignmentTaken",
    "BadStudyInput",
    "DeletionRefused",
    "ImportFailed",
    "ImportRefused",
    "InvalidChoice",
    "MissingIdentity",
    "NotComplete",
    "NotOnSheet",
    "OutOfOrder",
    "PlatformNotAccepted",
    "RowError",
    "StudyLocked",
    "StudyNotOpen",
    "SurveyError",
    # studies
    "DEFAULT_STUDY_NAME",
    "DEMO_SLUG",
    "MIN_DEFAULT_REAL_QUESTIONS",
    "MNIST_N_CLASSES",
    "TEXT_FIELDS",
    "block_rule_text",
    "check_texts",
    "update_texts",
    "check_method_names",
    "check_methods",
    "create_demo_study",
    "create_study",
    "default_real_questions",
    "parse_methods",
    "real_question_block",
    "replace_attention_check",
    "set_study_status",
    "valid_real_questions",
    # participation
    "EntryParams",
    "Question",
    "build_sheet",
    "check_can_start",
    "check_identity",
    "check_new_identity",
    "current_question",
    "find_participant",
    "next_position",
    "show_question",
    "start_participant",
    "start_pilot",
    # answers
    "AnswerProblem",
    "AnswerResult",
    "AnswerRule",
    "answer_fields",
    "answer_problems",
    "finish_participant",
    "passes_checks",
    "record_answer",
    "record_review",
    # imports
    "MAX_ERRORS",
    "OPTIONAL_COLUMNS",
    "ImportedAnswer",
    "ImportedParticipant",
    "ImportResult",
    "already_in_study",
    "check_imported_participants",
    "import_csv",
    "import_participants",
    "required_columns",
    # kinds
    "check_deletable",
    "deletable_kinds",
    "delete_participants",
    "prolific_ids",
    # summary
    "StudySummary",
    "study_summary",
]
