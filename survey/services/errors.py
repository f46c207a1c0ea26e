"""The errors of the survey's rules: requests refused (with the HTTP status a view answers with), files not imported."""

from __future__ import annotations

from dataclasses import dataclass


class SurveyError(Exception):
    """A request the rules refuse; ``status`` is the HTTP status a view answers with."""

    status = 400
    title = "Request refused"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StudyNotOpen(SurveyError):
    status = 403
    title = "This study is not taking participants"


class PlatformNotAccepted(SurveyError):
    status = 403
    title = "This study is not run on that platform"


class AlreadyTookPart(SurveyError):
    status = 403
    title = "You have already taken part"


class AssignmentTaken(SurveyError):
    status = 409
    title = "This assignment belongs to another participant"


class NotOnSheet(SurveyError):
    status = 400
    title = "This question is not on your sheet"


class InvalidChoice(SurveyError):
    status = 400
    title = "Not one of the images"


class OutOfOrder(SurveyError):
    status = 409
    title = "Please answer the questions in order"


class NotComplete(SurveyError):
    status = 409
    title = "The survey is not complete yet"


class StudyLocked(SurveyError):
    status = 409
    title = "The study's questions can no longer change"


class BadStudyInput(SurveyError):
    """``field``: the argument of :func:`~survey.services.create_study` that is wrong, when one is (a
    study file and the create page name it in their own words)."""

    status = 400
    title = "The study cannot be built"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class DeletionRefused(SurveyError):
    status = 400
    title = "These participants cannot be deleted"


class MissingIdentity(SurveyError):
    status = 400
    title = "The link does not say who you are"


class ImportRefused(SurveyError):
    """Imported participants that break the survey's rules; nothing was written.

    ``problems`` are (index of the participant in the list given, message), in that order.
    """

    title = "The participants cannot be imported"

    def __init__(self, problems: list[tuple[int, str]]):
        super().__init__(problems[0][1] if len(problems) == 1 else f"{problems[0][1]} (and {len(problems) - 1} more)")
        self.problems = problems


# --- the import of a file (survey.services.imports.import_csv) -----------------------------------


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
