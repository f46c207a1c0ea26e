"""The monitor's numbers: participants, votes and time of a study.

They count real participants only; pilots and simulated participants are counted apart
(``not_counted``), so the researcher sees they exist and that they do not count.
"""

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
    not_counted: dict[str, int] = field(default_factory=dict)  # participants of every other kind, by kind


def study_summary(study: Study) -> StudySummary:
    everyone = Participant.objects.filter(study=study)
    participants = everyone.filter(kind=Participant.Kind.REAL)
    counts = participants.aggregate(
        started=Count("id"),
        finished=Count("id", filter=Q(status=Participant.Status.FINISHED)),
        passing=Count("id", filter=Q(status=Participant.Status.FINISHED, passed=True)),
    )
    votes = dict.fromkeys(study.methods, 0)
    votes_passing = dict.fromkeys(study.methods, 0)
    answers = Answer.objects.filter(participant__study=study, participant__kind=Participant.Kind.REAL)
    real = answers.exclude(method="")
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
    by_kind = dict(everyone.exclude(kind=Participant.Kind.REAL).values_list("kind").annotate(n=Count("id")))
    not_counted = {kind: by_kind.get(kind, 0) for kind in Participant.Kind.values if kind != Participant.Kind.REAL}
    return StudySummary(
        started=counts["started"],
        finished=counts["finished"],
        passing=counts["passing"],
        answers=answers.count(),
        votes=votes,
        votes_passing=votes_passing,
        median_minutes=statistics.median(durations) if durations else None,
        by_platform=by_platform,
        not_counted=not_counted,
    )
