"""Data shared by the tests of survey.services (imported by conftest.py and the test files)."""

from survey import services

PROLIFIC = services.EntryParams(
    platform="prolific", prolific_pid="5f1a", prolific_study_id="S", prolific_session_id="X"
)
DIRECT = services.EntryParams(platform="direct")
SIX = ("normlime", "lime", "smoothgrad", "vargrad", "shap", "random")
