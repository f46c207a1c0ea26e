"""survey.services.summary: the monitor's numbers."""

import pytest

from survey import services
from survey.models import Answer
from survey.testing import answer_all, correct_position, make_study, mturk_params
from tests.survey.services.common import SIX

pytestmark = pytest.mark.django_db


def test_the_summary_counts_participants_votes_and_time(study):
    done, _ = services.start_participant(study, mturk_params("W1", "A1"))
    answer_all(done, pick=lambda q: correct_position(done, q.position) or 1)
    half, _ = services.start_participant(study, mturk_params("W2", "A2"))
    answer_all(half, stop_after=5)
    summary = services.study_summary(study)
    assert (summary.started, summary.finished, summary.passing) == (2, 1, 1)
    assert summary.answers == 30
    assert sum(summary.votes_passing.values()) == 20
    assert sum(summary.votes.values()) == 20 + sum(1 for a in Answer.objects.filter(participant=half) if a.method)
    assert summary.median_minutes is not None and summary.by_platform == {"mturk": 2}


def test_the_monitor_counts_the_votes_of_the_studys_methods(six_set):
    study = make_study(six_set, methods=SIX[:3])
    participant, _ = services.start_participant(study, mturk_params())
    answer_all(participant, pick=lambda q: 1)
    summary = services.study_summary(study)
    assert list(summary.votes) == list(SIX[:3]) and sum(summary.votes.values()) == 30
