"""Fixtures of the survey tests (builders live in survey/testing.py, shared with the benchmark)."""
from __future__ import annotations

import pytest

from survey.testing import fake_pictures, make_explanation_set, make_study


@pytest.fixture
def pictures():
    return fake_pictures()


@pytest.fixture
def explanation_set(db):
    return make_explanation_set()


@pytest.fixture
def study(explanation_set):
    return make_study(explanation_set)
