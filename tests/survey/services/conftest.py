"""Fixtures of the survey.services tests (the study and its explanation set come from tests/survey/conftest.py)."""

import pytest

from survey.testing import make_explanation_set
from tests.survey.services.common import SIX


@pytest.fixture
def six_set(db):
    return make_explanation_set("six", SIX)
