"""The monitor's numbers: participants, votes and time of a study."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from django.db.models import Count, Q

from ..models import Answer, Participant, Study


@dataclass(frozen=True)
class StudySummary:
    started: int
    finished: int
    passing: int
    answers: int
    votes: dict[str, int]  # all real-question votes so far, per method of the study (in its order)
    votes_passing: dict[str, int]  # votes of finished participants who passed the checks
    median_minutes: float | None
    by_platform: dict[str, int] = field(default_factory=dict)


def study_summary(study: Study) -> StudySummary:
    participants = Participant.objects.filter(study=study)
    counts = participants.aggregate(
        started=Count("id"),
        finished=Count("id", filter=Q(status=Participant.Status.FINISHED)),
        passing=Count("id", filter=Q(status=Participant.Status.FINISHED, passed=True)),
    )
    votes = dict.fromkeys(study.methods, 0)
    votes_passing = dict.fromkeys(study.methods, 0)
    real = Answer.objects.filter(participant__study=study).exclude(method="")
    for method, n in real.values_list("method").annotate(n=Count("id")):
        votes[method] = n
    for method, n in real.filter(participant__passed=True).values_list("method").annotate(n=Count("id")):
        votes_passing[method] = n
    durations = [
        (finished - started).total_seconds() / 60
        for started, finished in participants.filter(status=Participant.Status.FINISHED).values_list(
            "started_at", "finished_at"
        )
    ]
    by_platform = dict(participants.values_list("platform").annotate(n=Count("id")))
    return StudySummary(
        started=counts["started"],
        finished=counts["finished"],
        passing=counts["passing"],
        answers=Answer.objects.filter(participant__study=study).count(),
        votes=votes,
        votes_passing=votes_passing,
        median_minutes=statistics.median(durations) if durations else None,
        by_platform=by_platform,
    )
