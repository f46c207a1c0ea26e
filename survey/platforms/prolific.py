"""Prolific: the URL parameters it appends and the completion redirect it expects."""

from __future__ import annotations

from urllib.parse import urlencode

from survey.models import Participant, Study

PARAMS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")
ORIGIN = "https://app.prolific.com"
COMPLETE_URL = f"{ORIGIN}/submissions/complete"


def completion_code(study: Study, participant: Participant) -> str:
    """The study's code; the separate failed-checks code for those who failed, if one is set."""
    if participant.passed is False and study.prolific_failed_code:
        return study.prolific_failed_code
    return study.prolific_completion_code


def completion_url(study: Study, participant: Participant) -> str:
    return f"{COMPLETE_URL}?{urlencode({'cc': completion_code(study, participant)})}"


def study_url_template(participant_url: str) -> str:
    """The URL to paste into Prolific (it fills in the placeholders itself)."""
    return f"{participant_url}?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&STUDY_ID={{{{%STUDY_ID%}}}}&SESSION_ID={{{{%SESSION_ID%}}}}"
